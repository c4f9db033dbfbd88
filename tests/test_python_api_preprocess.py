"""Tracker.preprocess as a caller uses it: the frame is read in the tracker's `channels` order, as by initialize and
track, so a BGR tracker's search crop of OpenCV's BGR frame is the crop of the RGB picture (checked on a
hand-built frame whose red and blue channels differ, against the crop and the official normalisation worked out
by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import DropTrackError
from droptrack.runtime.run import build_tracker

MEAN = (0.485, 0.456, 0.406)   # ImageNet, the official preprocessor's
STD = (0.229, 0.224, 0.225)
BOX = (60, 40, 32, 32)         # tiny config: search factor 4 -> a 128-px window = the 128-px crop, no resize


def picture() -> np.ndarray:
    """A 160x140 RGB frame: red rises along x, green is flat, blue rises along y."""
    y, x = np.mgrid[0:140, 0:160]
    return np.stack([(2 * x) % 256, np.full_like(x, 77), (3 * y + 5) % 256], -1).astype(np.uint8)


def expected_search() -> np.ndarray:
    """The (1, 3, 128, 128) search input around BOX worked out by hand: the window's corner is
    (round(60 + 16 - 64), round(40 + 16 - 64)) = (12, -8), so 8 rows of zero padding on top, then rows 0..119 and
    columns 12..139 of the picture; each channel is (v / 255 - mean) / std in float32."""
    crop = np.zeros((128, 128, 3), np.uint8)
    crop[8:, :] = picture()[0:120, 12:140]
    out = np.empty((1, 3, 128, 128), np.float32)
    for c in range(3):
        out[0, c] = (crop[:, :, c].astype(np.float32) / np.float32(255) - np.float32(MEAN[c])) / np.float32(STD[c])
    return out


def as_numpy(x) -> np.ndarray:
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


@pytest.mark.parametrize("pre", ["host", "device"])
def test_preprocess_reads_bgr_frames_of_a_bgr_tracker(tiny_ckpt, pre):
    rgb = picture()
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    assert not np.array_equal(rgb[:, :, 0], rgb[:, :, 2])
    want = expected_search()
    for channels, frame in (("rgb", rgb), ("bgr", bgr)):
        t = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre, channels=channels)
        t.initialize(frame, BOX)
        search, factors = t.preprocess(frame)
        np.testing.assert_allclose(as_numpy(search), want, rtol=0, atol=1e-6, err_msg=channels)
        assert [float(f) for f in factors] == [1.0]


@pytest.mark.parametrize("pre", ["host", "device"])
def test_preprocess_before_initialize_is_a_droptrack_error(tiny_ckpt, pre):
    t = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
    with pytest.raises(DropTrackError) as err:
        t.preprocess(picture())
    assert "initialize" in str(err.value) and "\n" not in str(err.value)
