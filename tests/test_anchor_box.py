"""ANCHOR_BOX (runtime/tracker.py `_update_extended`): 'state' (the default, every earlier run) makes the anchor's
box the tracker's state, 'report' only reports it and keeps the network's box as the state, so the crops, and the
tracks of FP16 / INT8 beside FP32, are those of the same model without the anchor."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from droptrack.errors import ConfigError
from droptrack.runtime.extensions import TrackerExt
from droptrack.runtime.start_notes import extension_notes
from droptrack.runtime.tracker import load_tracker
from test_anchor import photo, zoomed  # noqa: F401 (fixture)

# the filter corrects the network's size each frame; every anchor key named (the model's own fill what ext omits)
NETWORK = {"ANCHOR_SCALE": 1.0, "ANCHOR_NCC": None, "ANCHOR_SIZE": "network", "ANCHOR_GATE": 0.0}


def zoom_in(gray: np.ndarray, frames: int = 12) -> list[np.ndarray]:
    """A camera zooming in 3 % a frame about the target's centre while panning 2 px a frame (RGB)."""
    return [cv2.cvtColor(zoomed(gray, 1.0 + 0.03 * i, 235.0, 130.0, dx=2.0 * i), cv2.COLOR_GRAY2RGB)
            for i in range(frames)]


def test_report_keeps_the_networks_states_and_reports_the_anchors_box(photo):  # noqa: F811
    frames = zoom_in(photo)
    box = [180.0, 60.0, 110.0, 140.0]   # the astronaut's head and shoulder
    plain = load_tracker(None, threads=1, ext={"ANCHOR_SCALE": None, "ANCHOR_NCC": None})
    state = load_tracker(None, threads=1, ext={**NETWORK, "ANCHOR_BOX": "state"})
    report = load_tracker(None, threads=1, ext={**NETWORK, "ANCHOR_BOX": "report"})
    for t in (plain, state, report):
        t.initialize(frames[0], box)
    moved = []
    for k, f in enumerate(frames[1:]):
        p, s, r = plain.track(f)[0], state.track(f)[0], report.track(f)[0]
        # the state, so every crop, is the model's own without the anchor, to the last bit
        assert report.states[0] == plain.states[0], k
        if k == 0:   # same input so far: the box reported is the box 'state' mode keeps
            assert r == pytest.approx(s, abs=1e-9)
        # network size: the correction scales the network's box about its centre, its aspect kept
        (px, py, pw, ph), (rx, ry, rw, rh) = p, r
        assert (rx + rw / 2, ry + rh / 2) == pytest.approx((px + pw / 2, py + ph / 2), abs=1e-6)
        assert rw / rh == pytest.approx(pw / ph, rel=1e-6)
        moved.append(abs(rw - pw) + abs(rh - ph))
    assert max(moved) > 1.0, moved                          # the anchor did act on the reported boxes
    assert state.states[0] != pytest.approx(plain.states[0], abs=1e-3)   # where 'state' mode's crops have moved on


def test_the_key_is_checked_said_and_inert_without_an_anchor():
    assert TrackerExt().anchor_box == "state"
    with pytest.raises(ConfigError, match="ANCHOR_BOX.*'state', 'report'|ANCHOR_BOX.*state.*report"):
        TrackerExt.from_keys({"ANCHOR_BOX": "shown"})
    said = TrackerExt.from_keys({**NETWORK, "ANCHOR_BOX": "report"}).describe()
    assert said.endswith("first-frame anchor (scale filter x/÷1 of the network's box; its box reported only)"), said
    assert "reported only" not in TrackerExt.from_keys(NETWORK).describe()
    inert = extension_notes(TrackerExt.from_keys({"ANCHOR_BOX": "report"}), 4.0, None)
    assert len(inert) == 1 and inert[0].startswith("--anchor-box report reports the first-frame anchor's box"), inert
    assert extension_notes(TrackerExt.from_keys({**NETWORK, "ANCHOR_BOX": "report"}), 4.0, None) == []


def test_a_run_journal_names_the_key_only_at_report():
    """`dt run --resume`'s identity: a journal written before the key existed (anchor on, its box the state) still
    matches a run at the default 'state'; 'report' is another procedure and is named."""
    from types import SimpleNamespace

    from droptrack.runtime.resume import _settings

    opts = SimpleNamespace(lost_threshold=0.3, fps=None, jsonl=None, output=None)

    def tracker_keys(keys: dict) -> dict:
        return _settings(opts, [[1, 2, 3, 4]], SimpleNamespace(ext=TrackerExt.from_keys(keys)), [])["tracker"]

    before = {"anchor_scale": 1.0, "anchor_ncc": None, "anchor_size": "network", "anchor_gate": 0.0}
    on = tracker_keys(NETWORK)
    assert {k: v for k, v in on.items() if k.startswith("anchor_")} == before
    assert tracker_keys({**NETWORK, "ANCHOR_BOX": "report"}) == {**on, "anchor_box": "report"}
    assert not any(k.startswith("anchor_") for k in tracker_keys({}))


def test_a_models_own_anchor_keys_left_idle_by_the_options_are_not_warned_about():
    """A model whose TEST keys turn the anchor on (the embedded one since version 30) run with `--anchor-scale off` or
    `--official`: its own ANCHOR_SIZE / ANCHOR_GATE / ANCHOR_BOX then do nothing, which the user asked for; only keys
    the options set themselves are named."""
    from types import SimpleNamespace

    from droptrack.runtime.start_notes import meta_notes

    own = {**NETWORK, "ANCHOR_GATE": 0.5, "ANCHOR_BOX": "report"}
    idle = TrackerExt.from_keys({**own, "ANCHOR_SCALE": None})
    assert extension_notes(idle, 4.0, None, {"ANCHOR_SCALE": None}) == []
    assert len(extension_notes(idle, 4.0, None)) == 2            # no options known: every idle key, as before
    said = extension_notes(idle, 4.0, None, {"ANCHOR_SCALE": None, "ANCHOR_GATE": 0.5})
    assert len(said) == 1 and said[0].startswith("--anchor-gate 0.5 acts on the first-frame anchor's scale"), said
    meta = SimpleNamespace(tracker=own, search_factor=4.0)      # dt eval / dt bench: the model's own description
    assert meta_notes(meta, {"ANCHOR_SCALE": None}) == []
    assert meta_notes(meta, {"ANCHOR_SCALE": None, "ANCHOR_BOX": "report"})[0].startswith("--anchor-box report")
