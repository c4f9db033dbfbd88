"""TEMPLATE_REFRESH never replaces a template while re-acquisition still counts the target as lost (searching wide
until REACQ_RECOVER), on the host Tracker and the DeviceTracker alike, per target of a batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_tracker_ext import ScriptedBackend

from droptrack.config import load_config, meta_from_config
from droptrack.runtime.extensions import TrackerExt
from droptrack.runtime.tracker import Tracker


def refreshed_frames(tracker, scores: list) -> list[list[bool]]:
    """Per tracked frame, per target: whether its template changed (each frame is new noise, so a refresh shows)."""
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(len(scores) + 1)]
    tracker.initialize_many(frames[0], [[140.0, 100.0, 40.0, 40.0], [30.0, 50.0, 20.0, 60.0]])
    before, changed = np.array(tracker.templates), []
    for f in frames[1:]:
        tracker.track_many(f)
        now = np.array(tracker.templates)
        changed.append([not np.array_equal(a, b) for a, b in zip(before, now)])
        before = now
    return changed


@pytest.mark.parametrize("kind", ["host", "device"])
def test_no_refresh_while_reacquisition_searches_wide(kind):
    from droptrack.runtime.device_tracker import DeviceTracker

    torch.manual_seed(0)
    meta = meta_from_config(load_config("tiny_ce_test"))
    # target 0: confident, lost for 2 frames (< 0.25: wide from then on), 0.4 and 0.45 (above TEMPLATE_REFRESH 0.3
    # but under REACQ_RECOVER 0.5: still lost), recovered at 0.6, then 0.4 (found again: refreshes);
    # target 1: 0.9 on every frame, refreshed on every frame whatever target 0 does
    first = [0.9, 0.1, 0.1, 0.4, 0.45, 0.6, 0.4]
    scores = [[a, 0.9] for a in first]
    ext = TrackerExt(reacq_factor=6.0, reacq_frames=2, reacq_threshold=0.25, reacq_recover=0.5, reacq_center="last",
                     template_refresh=0.3, template_refresh_every=1)
    backend = ScriptedBackend(meta, scores)
    tracker = Tracker(backend, ext) if kind == "host" else DeviceTracker(backend, device="cpu", ext=ext)
    changed = refreshed_frames(tracker, scores)
    assert [c[0] for c in changed] == [True, False, False, False, False, True, True]
    assert [c[1] for c in changed] == [True] * len(first)
    assert tracker.extensions.memory[0].history == [False, False, False, True, True, True, False]
