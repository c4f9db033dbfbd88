"""WINDOW_POWER (runtime/extensions.py): the score map times the official cosine window to a power. Which of two
scripted peaks wins is worked out by hand from the window's formula, 0.5 (1 - cos(2 pi k / (F + 1))), not from the
code under test; 1.0 gives the official boxes bit for bit; host and device trackers share the window."""

from __future__ import annotations

import math

import numpy as np
import pytest

from droptrack.config import meta_from_config
from droptrack.engine.base import Backend
from droptrack.engine.torch_backend import TorchBackend
from droptrack.errors import ConfigError
from droptrack.runtime.extensions import TrackerExt
from droptrack.runtime.tracker import Tracker
from test_tracker_ext import frames, reference_track, run, tiny

__all__ = ["frames", "tiny"]   # fixtures, used by name


def hann(k: int, f: int) -> float:
    """The official 1-D window's k-th value (k = 0..F-1), by its formula."""
    return 0.5 * (1 - math.cos(2 * math.pi * (k + 1) / (f + 1)))


class TwoPeaks(Backend):
    """Raw score maps with a peak `a` at the centre cell and a peak `b` `shift` cells to its right; zero offsets."""

    name = "two-peaks"

    def __init__(self, meta, a: float, b: float, shift: int):
        super().__init__(meta)
        self.a, self.b, self.shift, self.f = a, b, shift, meta.feat_size

    def _infer(self, template, search):
        n, f, c = search.shape[0], self.f, self.f // 2
        score = np.zeros((n, 1, f, f), np.float32)
        score[:, 0, c, c], score[:, 0, c, c + self.shift] = self.a, self.b
        return {"score_map": score, "size_map": np.full((n, 2, f, f), 0.25, np.float32),
                "offset_map": np.zeros((n, 2, f, f), np.float32)}


def moved_right(cfg, power: float | None, a: float, b: float, shift: int) -> bool:
    """Whether one tracked frame put the box on the right-hand peak."""
    meta = meta_from_config(cfg)
    tracker = Tracker(TwoPeaks(meta, a, b, shift), TrackerExt(window_power=power))
    frame = np.zeros((240, 320, 3), np.uint8)
    init = [140.0, 100.0, 40.0, 40.0]
    tracker.initialize(frame, init)
    box = tracker.track(frame)[0]
    cell_px = math.ceil(math.sqrt(40 * 40) * meta.search_factor) / meta.feat_size   # one score cell in pixels
    centre_shift = box[0] + box[2] / 2 - (init[0] + init[2] / 2)
    assert min(abs(centre_shift), abs(centre_shift - shift * cell_px)) < 0.5 * cell_px   # on one of the two peaks
    return centre_shift > 0.5 * cell_px


def test_the_power_decides_between_a_near_and_a_stronger_far_peak_as_the_formula_says(tiny):
    _, cfg = tiny
    f = meta_from_config(cfg).feat_size
    c, shift = f // 2, 2
    # the window's ratio far / near along the row (the column factor is the same for both peaks)
    ratio = hann(c + shift, f) / hann(c, f)
    assert ratio < 0.9
    # b * ratio ** p > a decides for the far peak: with b = a / ratio ** 0.75 it wins for p < 0.75 only
    a = 0.5
    b = a / ratio ** 0.75
    for power, far_wins in ((None, False), (1.0, False), (0.5, True), (0.0, True), (2.0, False)):
        assert (b * ratio ** (1.0 if power is None else power) > a) == far_wins   # the hand computation
        assert moved_right(cfg, power, a, b, shift) == far_wins, power
    # a far peak that wins with the official window loses with a strong enough one: b ratio > a > b ratio ** 3
    b = a / ratio ** 2
    assert moved_right(cfg, None, a, b, shift) and not moved_right(cfg, 3.0, a, b, shift)


def test_power_one_is_the_official_procedure_bit_for_bit(tiny, frames):
    model, cfg = tiny
    init = [50.0, 40.0, 24.0, 30.0]
    expected = reference_track(model, cfg, frames, init)
    assert run(Tracker(TorchBackend(model, cfg), TrackerExt(window_power=1.0)), frames, init) == expected
    other = run(Tracker(TorchBackend(model, cfg), TrackerExt(window_power=0.0)), frames, init)
    assert other != expected   # this clip has a far peak that the window suppresses


def test_device_tracker_uses_the_host_window(tiny):
    from droptrack.runtime.device_tracker import DeviceTracker

    meta = meta_from_config(tiny[1])
    ext = TrackerExt(window_power=0.5, scale_search=[0.8], scale_penalty=0.97)
    host = Tracker(TwoPeaks(meta, 0.5, 0.6, 2), ext)
    dev = DeviceTracker(TwoPeaks(meta, 0.5, 0.6, 2), device="cpu", ext=ext)
    np.testing.assert_array_equal(dev.window_t.numpy(), host.window)
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    for t in (host, dev):
        t.initialize(frame, [140.0, 100.0, 40.0, 40.0])
    for _ in range(3):
        a, b = host.track(frame), dev.track(frame)
        assert b[0] == pytest.approx(a[0], abs=1e-6) and b[1] == pytest.approx(a[1], abs=1e-6)


@pytest.mark.parametrize("value", [-0.5, 4.5, "x"])
def test_bad_power_is_a_one_line_config_error(value):
    with pytest.raises(ConfigError, match="WINDOW_POWER"):
        TrackerExt.from_keys({"WINDOW_POWER": value})


def test_describe_names_it():
    assert TrackerExt(window_power=1.5).describe() == "official + window power 1.5"
    assert TrackerExt(window_power=1.5).active and not TrackerExt().active
