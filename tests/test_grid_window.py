"""GRID_WINDOW 'target' (runtime/score_windows.py, extensions.py): with CROP_GRID the cosine window is centred on the
target's previous position, where the official procedure centres it, instead of on the grid crop's centre. The
moved window is checked against its formula, 0.5 (1 - cos(2 pi (k - u) / (F + 1))), and which of two scripted peaks
wins is worked out by hand from the grid's geometry (docs/models.md, CROP_GRID), not from the code under test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from droptrack.config import meta_from_config
from droptrack.engine.torch_backend import TorchBackend
from droptrack.errors import ConfigError
from droptrack.geometry import hann1d
from droptrack.runtime.extensions import TrackerExt
from droptrack.runtime.score_windows import moved_hann1d
from droptrack.runtime.tracker import Tracker
from test_tracker_ext import frames, reference_track, run, tiny
from test_window_power import TwoPeaks

__all__ = ["frames", "tiny"]   # fixtures, used by name


def hann_at(k: int, f: int, u: float) -> float:
    """The official 1-D window's k-th value (k = 0..F-1) moved by u cells, by its formula."""
    return 0.5 * (1 - math.cos(2 * math.pi * (k + 1 - u) / (f + 1)))


def test_the_moved_window_follows_its_formula_and_is_the_official_one_unmoved():
    for f in (8, 16, 24):
        np.testing.assert_array_equal(moved_hann1d(f, 0.0), hann1d(f))   # bit for bit
    w = moved_hann1d(8, 0.359)
    assert w.tolist() == pytest.approx([hann_at(k, 8, 0.359) for k in range(8)], abs=1e-7)
    assert int(np.argmax(w)) == 4 and w[4] > w[3]    # unmoved, cells 3 and 4 tie (the centre is 3.5)
    # moved 5 cells right, cells 0-4 are past the window's left end: zero, not the cosine's next lobe
    assert moved_hann1d(8, 5.0).tolist() == pytest.approx([0.0] * 5 + [hann_at(k, 8, 5.0) for k in (5, 6, 7)])


def one_step(cfg, ext: TrackerExt, a: float, b: float, tracker_cls=Tracker, **kw) -> list[float]:
    """One tracked frame of a peak `a` at the score map's cell (4, 4) and `b` at (4, 3), from init box
    [143, 100, 40, 40] (centre x 163)."""
    meta = meta_from_config(cfg)
    tracker = tracker_cls(TwoPeaks(meta, a, b, -1), ext=ext, **kw)
    frame = np.zeros((240, 320, 3), np.uint8)
    tracker.initialize(frame, [143.0, 100.0, 40.0, 40.0])
    return tracker.track(frame)[0]


def test_the_target_window_decides_two_peaks_as_the_geometry_says(tiny):
    _, cfg = tiny
    meta = meta_from_config(cfg)
    f = meta.feat_size
    assert (f, meta.search_factor) == (8, 4.0)
    # By hand, CROP_GRID 0.1: sqrt(40 x 40) x 4 = 160; ln 160 / ln 1.1 = 53.25 -> rung 53: 1.1^53 = 156.2 -> side 156.
    # Step 15.6; official corner x 163 - 78 = 85 = 5.45 steps -> 5 -> 78. The crop spans x 78..234, centre 156, so the
    # target's centre (163) is 7 px = 7 / 156 x 8 = 0.359 cells right of the crop's centre.
    u = 7 / 156 * f
    near, far = hann_at(4, f, u), hann_at(3, f, u)   # the two peaks' columns under the target's window
    a, b = 1.0, 1.05
    assert hann_at(4, f, 0) == pytest.approx(hann_at(3, f, 0))   # crop-centred: equal weights, so b (left) wins
    assert a * near > b * far                                     # target-centred: a (right) wins
    # the official decode puts cell k (zero offset) at k / 8 of the crop: x = 78 + k / 8 x 156
    left, right = 78 + 3 / f * 156, 78 + 4 / f * 156
    for window, want in (("crop", left), ("target", right)):
        box = one_step(cfg, TrackerExt(crop_grid=0.1, grid_window=window), a, b)
        assert box[0] + box[2] / 2 == pytest.approx(want, abs=0.05), window
    # a stronger left peak wins under both windows: b * far > a * near
    b = 1.15
    assert b * far > a * near
    box = one_step(cfg, TrackerExt(crop_grid=0.1, grid_window="target"), a, b)
    assert box[0] + box[2] / 2 == pytest.approx(left, abs=0.05)


def test_device_tracker_uses_the_host_windows(tiny):
    from droptrack.runtime.device_tracker import DeviceTracker

    _, cfg = tiny
    ext = TrackerExt(crop_grid=0.1, grid_window="target", scale_search=[0.8], scale_penalty=0.97, window_power=1.5)
    meta = meta_from_config(cfg)
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    host = Tracker(TwoPeaks(meta, 1.0, 1.05, -1), ext)
    dev = DeviceTracker(TwoPeaks(meta, 1.0, 1.05, -1), device="cpu", ext=ext)
    for t in (host, dev):
        t.initialize_many(frame, [[143.0, 100.0, 40.0, 40.0], [30.0, 20.0, 25.0, 60.0]])
    for _ in range(3):
        a, b = host.track_many(frame), dev.track_many(frame)
        np.testing.assert_array_equal(dev._windows_t.numpy(), host._windows)
        for ra, rb in zip(a, b):
            assert rb.box == pytest.approx(ra.box, abs=1e-6)


def test_without_a_grid_it_is_the_official_procedure_bit_for_bit(tiny, frames):
    model, cfg = tiny
    init = [50.0, 40.0, 24.0, 30.0]
    ext = TrackerExt(grid_window="target")
    assert not ext.active and not ext.moves_window
    assert run(Tracker(TorchBackend(model, cfg), ext), frames, init) == reference_track(model, cfg, frames, init)


@pytest.mark.parametrize("value", ["centre", 1, None])
def test_bad_value_is_a_one_line_config_error(value):
    with pytest.raises(ConfigError, match="GRID_WINDOW"):
        TrackerExt.from_keys({"GRID_WINDOW": value})


def test_describe_names_it():
    assert TrackerExt(crop_grid=0.1, grid_window="target").describe() == \
        "official + crop grid 0.1, window on the target"
    assert TrackerExt(crop_grid=0.1).describe() == "official + crop grid 0.1"
