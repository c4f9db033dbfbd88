"""Opt-in tracker extensions, scale search and the crop grid (runtime/extensions.py): a hand-built scale pyramid, the
penalised best crop on scripted scores, the device tracker equal to the host tracker (and CUDA to the CPU), a state
error below a grid step forgotten."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from droptrack.config import meta_from_config
from droptrack.engine.torch_backend import TorchBackend
from droptrack.runtime.extensions import TrackerExt
from droptrack.runtime.tracker import Tracker
from test_tracker_ext import ScriptedBackend, frames, host_and_device, reference_track, run, tiny

__all__ = ["frames", "tiny"]   # fixtures, used by name


def test_scale_search_matches_a_hand_built_scale_pyramid(tiny, frames):
    model, cfg = tiny
    init = [50.0, 40.0, 24.0, 30.0]
    for scales, penalty in (((0.8,), 0.95), ((0.7, 1.3), 1.0)):
        expected = reference_track(model, cfg, frames, init, scales, penalty)
        tracker = Tracker(TorchBackend(model, cfg), TrackerExt(scale_search=list(scales), scale_penalty=penalty))
        np.testing.assert_allclose(run(tracker, frames, init), expected, rtol=0, atol=1e-4)
    official = reference_track(model, cfg, frames, init)
    assert np.abs(np.asarray(expected) - np.asarray(official)).max() > 1.0   # the extra scales did win somewhere
    # with a penalty near 0 the extra crops never win: the official boxes, although every crop was run
    tracker = Tracker(TorchBackend(model, cfg), TrackerExt(scale_search=[0.8], scale_penalty=1e-9))
    np.testing.assert_allclose(run(tracker, frames, init), official, atol=1e-4)


class RecordingBackend(ScriptedBackend):
    """ScriptedBackend that keeps the template and search batches it was given."""

    def _infer(self, template, search):
        self.seen = (np.array(template), np.array(search))
        return super()._infer(template, search)


def test_scale_search_picks_the_penalised_best_crop_hand_computed(tiny):
    _, cfg = tiny
    meta = meta_from_config(cfg)
    sf, size = meta.search_factor, meta.search_size
    # per frame, the two crops' peaks: 0.6 x 0.95 = 0.57 > 0.5 (scale 0.8 wins); 0.52 x 0.95 = 0.494 < 0.5 (normal)
    scores = [[0.5, 0.6], [0.5, 0.52]]
    backend = RecordingBackend(meta, scores)
    tracker = Tracker(backend, TrackerExt(scale_search=[0.8], scale_penalty=0.95))
    frame = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    tracker.initialize(frame, [140.0, 100.0, 40.0, 40.0])
    box, score = tracker.track(frame)
    template, search = backend.seen
    assert search.shape[0] == template.shape[0] == 2 and np.array_equal(template[0], template[1])
    # the winning crop's side is ceil(40 * 4 * 0.8) = 128 px; the size map says 0.25 of it: a 32 x 32 box around
    # the same centre (zero offset at the centre cell), and the reported score is its raw peak
    side = math.ceil(40 * sf * 0.8)
    assert score == pytest.approx(0.6, abs=1e-6)
    cell = meta.feat_size // 2
    centre = 160.0 + (cell / meta.feat_size - 0.5) * side
    assert box == pytest.approx([centre - side / 8, 100 + 20 + (cell / meta.feat_size - 0.5) * side - side / 8,
                                 side / 4, side / 4], abs=1e-4)
    box2, score2 = tracker.track(frame)    # the normal crop: ceil(32 * 4) px, a quarter of it
    assert score2 == pytest.approx(0.5, abs=1e-6)
    assert box2[2] == pytest.approx(math.ceil(32 * sf) / 4, abs=1e-4)
    assert size == tracker.meta.search_size


def test_scale_search_on_the_device_tracker_equals_the_host_tracker(tiny):
    scores = [[0.9, 0.95, 0.2, 0.4], [0.3, 0.2, 0.5, 0.9], [0.6, 0.7, 0.1, 0.1]]
    ext = TrackerExt(scale_search=[0.8], scale_penalty=0.9, reacq_factor=6.0, reacq_frames=1)
    host, dev, frame = host_and_device(tiny[1], scores, ext)
    for _ in scores:
        for a, b in zip(host.track_many(frame), dev.track_many(frame)):
            assert b.box == pytest.approx(a.box, abs=1e-6) and b.score == pytest.approx(a.score, abs=1e-6)
    assert [m.history for m in host.extensions.memory] == [m.history for m in dev.extensions.memory]


def test_crop_grid_on_the_device_tracker_equals_the_host_tracker(tiny):
    scores = [[0.9, 0.95, 0.2, 0.4], [0.3, 0.2, 0.5, 0.9]]
    ext = TrackerExt(scale_search=[0.8], scale_penalty=0.9, crop_grid=0.1)
    host, dev, frame = host_and_device(tiny[1], scores, ext)
    for _ in scores:
        for a, b in zip(host.track_many(frame), dev.track_many(frame)):
            assert b.box == pytest.approx(a.box, abs=1e-6) and b.score == pytest.approx(a.score, abs=1e-6)


def test_crop_grid_forgets_a_state_error_below_a_step(tiny, frames):
    """The drifting square; the state nudged by 0.001 px after the first frame. With the grid the next boxes are bit
    for bit those of the untouched run; without it the error is carried into the next box."""
    model, cfg = tiny
    frames = frames[:6]
    for grid in (0.1, None):
        runs = []
        for nudge in (0.0, 1e-3):
            tracker = Tracker(TorchBackend(model, cfg), TrackerExt(crop_grid=grid))
            tracker.initialize(frames[0], [50.0, 40.0, 24.0, 30.0])
            tracker.track(frames[1])
            tracker.states[0] = [v + nudge for v in tracker.states[0]]
            runs.append([tracker.track(f)[0] for f in frames[2:]])
        if grid is None:
            assert runs[0][0] != runs[1][0]   # (this random-weight model's boxes later clip to the frame)
        else:
            assert runs[0] == runs[1]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("grid", [None, 0.1])
@pytest.mark.parametrize("gate", [None, 0.5])
def test_scale_search_on_cuda_device_tracker_equals_the_cpu(tiny, frames, grid, gate):
    """Scale search (with and without the crop grid, gated or not: SCALE_GATE's targets each with their own count of
    crops) with torch I/O on CUDA (templates repeated as CUDA tensors): the CPU's boxes, and one host sync per frame
    (the readback of the boxes; the states, crop anchors and repeated templates go up without one)."""
    import warnings

    from droptrack.runtime.device_tracker import DeviceTracker

    model, cfg = tiny
    ext = TrackerExt(scale_search=[0.7, 1.3], scale_penalty=1.0, crop_grid=grid, scale_gate=gate)
    out, syncs = {}, []
    for device in ("cpu", "cuda"):
        tracker = DeviceTracker(TorchBackend(copy.deepcopy(model), cfg, device=device), device=device, ext=ext)
        tracker.initialize_many(frames[0], [[50.0, 40.0, 24.0, 30.0], [20.0, 20.0, 30.0, 30.0]])
        out[device] = []
        for f in frames[1:5]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn" if device == "cuda" else "default")
                try:
                    out[device].append([r.box for r in tracker.track_many(f)])
                finally:
                    torch.cuda.set_sync_debug_mode("default")
            if device == "cuda":
                syncs.append(sum("synchroniz" in str(c.message) for c in caught))
    np.testing.assert_allclose(out["cuda"], out["cpu"], atol=1.0)
    assert max(syncs) <= 1, syncs
