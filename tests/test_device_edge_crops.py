"""The DeviceTracker on init boxes whose crop windows end left of or above the frame: the official `sample_target`
crops a real part of the frame there (numpy reads the negative slice end from the far side), so the device path
must give the host Tracker's templates, first search crops and boxes, not the all-zero crops of its zero padding."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.engine.torch_backend import TorchBackend
from droptrack.geometry import crop_params
from droptrack.runtime.backends import tracker_ext
from droptrack.runtime.device_tracker import DeviceTracker
from droptrack.runtime.tracker import Tracker

pytestmark = pytest.mark.usefixtures("one_thread")   # tiny_ckpt, frames (176x144 video frames): conftest.py

# tiny_ce_test: template factor 2 -> 64 px, search factor 4 -> 128 px. On the 176 x 144 frames:
#   left  (-330, 20, 350, 1):  template side ceil(sqrt(350) * 2) = 38, x1 = round(-155 - 19) = -174, ends at -136;
#                              search side ceil(sqrt(350) * 4) = 75, x1 = round(-155 - 37.5) = -192, ends at -117
#   above (30, -260, 1, 280):  template side 34, y1 = round(-120 - 17) = -137, ends at -103;
#                              search side 67, y1 = round(-120 - 33.5) = -154, ends at -87
# so the official slices are im[:, 0:-136], im[:, 0:-117], im[0:-103], im[0:-87]: 40, 59, 41 and 57 frame lines.
INITS = [[-330.0, 20.0, 350.0, 1.0], [60.0, 40.0, 40.0, 50.0], [30.0, -260.0, 1.0, 280.0]]


@pytest.fixture(scope="module")
def backend(tiny_ckpt) -> TorchBackend:
    return TorchBackend.from_checkpoint(tiny_ckpt)


def test_the_windows_end_before_the_frame():
    hw = (144, 176)
    left_t, left_s = crop_params(INITS[0], 2.0, hw), crop_params(INITS[0], 4.0, hw)
    above_t, above_s = crop_params(INITS[2], 2.0, hw), crop_params(INITS[2], 4.0, hw)
    assert (left_t.x1 + left_t.crop_sz, left_s.x1 + left_s.crop_sz) == (-136, -117)
    assert (above_t.y1 + above_t.crop_sz, above_s.y1 + above_s.crop_sz) == (-103, -87)


def test_templates_and_first_boxes_equal_the_host_trackers(backend, frames):
    host, dev = Tracker(backend), DeviceTracker(backend, device="cpu")
    host.initialize_many(frames[0], INITS)
    dev.initialize_many(frames[0], INITS)
    zero = (0 - np.array(backend.meta.mean)) / np.array(backend.meta.std)   # a padded pixel, normalised
    for row in (0, 2):   # the official template holds frame pixels (the device's zero padding had none)
        assert (np.abs(host.templates[row] - zero[:, None, None]) > 1e-3).any(axis=0).mean() > 0.1
    assert np.array_equal(dev.templates.numpy(), host.templates)   # the device crop is the host crop's bytes
    for a, b in zip(host.track_many(frames[1]), dev.track_many(frames[1])):
        assert list(a.box) == list(b.box) and a.score == b.score


@pytest.mark.parametrize("ext", [{}, {"SCALE_SEARCH": [0.8, 1.25], "CROP_GRID": 0.05}])
def test_first_search_crops_equal_the_host_trackers(backend, frames, ext):
    """Every search crop of the first frame after init (each scale, on the crop grid); asked twice before
    postprocess, the same crops (the host Tracker's preprocess does not change the states either)."""
    settings = tracker_ext(backend, ext)
    host, dev = Tracker(backend, settings), DeviceTracker(backend, device="cpu", ext=settings)
    host.initialize_many(frames[0], INITS)
    dev.initialize_many(frames[0], INITS)
    want, _ = host.preprocess(frames[1])
    for _ in range(2):
        got, _ = dev.preprocess(frames[1])
        assert np.array_equal(got.numpy(), want)
