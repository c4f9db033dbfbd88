"""The device crop (`device_ops.crop_resize`, torch) gives the bytes of the host crop (`cv2.resize` INTER_LINEAR of
the zero-padded window): OpenCV resizes uint8 in fixed point (weights in 1/2048 steps, its own rounding), which the
float `grid_sample` it used missed on ~6 % of the values by one grey level; that moved the device tracker's boxes
off the host tracker's (up to 6.6 px on carphone in 60 frames, 110 px on vtest.avi in 30)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from droptrack.engine.torch_backend import TorchBackend
from droptrack.runtime import device_ops
from droptrack.runtime.device_tracker import DeviceTracker
from droptrack.runtime.host_ops import Cropper, crop_resize
from droptrack.runtime.tracker import Tracker

pytestmark = pytest.mark.usefixtures("one_thread")   # one_thread, frames (carphone_pristine.mp4): conftest.py

PHOTOS = {"astronaut": skimage.data.astronaut, "coffee": skimage.data.coffee, "chelsea": skimage.data.chelsea}


def opencv_crop(img: np.ndarray, box, factor: float, size: int) -> np.ndarray:
    """The official crop written out: a square window of side ceil(sqrt(w*h)*factor) around the box centre, zero
    outside the frame and on its last row and column (the '+1' quirk), resized by cv2.resize (INTER_LINEAR)."""
    x, y, w, h = box
    side = math.ceil(math.sqrt(w * h) * factor)
    x1, y1 = round(x + 0.5 * w - 0.5 * side), round(y + 0.5 * h - 0.5 * side)
    H, W = img.shape[:2]
    window = np.zeros((side, side, 3), np.uint8)
    top, left, bottom, right = max(y1, 0), max(x1, 0), min(y1 + side, H - 1), min(x1 + side, W - 1)
    if bottom > top and right > left:
        window[top - y1:bottom - y1, left - x1:right - x1] = img[top:bottom, left:right]
    return cv2.resize(window, (size, size))


def side(box, factor: float) -> int:
    return math.ceil(math.sqrt(box[2] * box[3]) * factor)


def cases(H: int, W: int) -> list[tuple[str, list[float], float, int]]:
    """(name, box, factor, output side): inside the frame, at its border, partly and wholly outside, up and down."""
    return [
        ("inside, down 2.1x", [W * 0.4, H * 0.4, 60.0, 50.0], 5.0, 128),
        ("inside, up 8.7x", [W * 0.5, H * 0.5, 12.0, 10.0], 2.0, 192),
        ("touching the right and bottom edge", [W - 40.0, H - 30.0, 40.0, 30.0], 4.0, 128),
        ("partly outside, top left", [-20.0, -10.0, 60.0, 50.0], 5.0, 384),
        ("partly outside, bottom right", [W - 20.0, H - 15.0, 50.0, 40.0], 4.0, 256),
        ("window larger than the frame", [10.0, 10.0, W - 20.0, H - 20.0], 2.0, 128),
        ("same size (cv2 copies)", [W * 0.3, H * 0.3, 32.0, 32.0], 2.0, 64),
        ("down exactly 2x (cv2's INTER_AREA path)", [W * 0.3, H * 0.3, 64.0, 64.0], 2.0, 64),
        ("up exactly 2x", [W * 0.6, H * 0.2, 32.0, 32.0], 2.0, 128),
        ("odd side 37, down", [W * 0.2, H * 0.6, 70.3, 50.7], 4.0, 37),
        ("odd side 100, up", [W * 0.7, H * 0.7, 9.5, 14.2], 2.0, 100),
        ("wholly outside, right", [W + 50.0, H * 0.5, 20.0, 20.0], 2.0, 64),
    ]


@pytest.mark.parametrize("photo", sorted(PHOTOS))
def test_device_crops_equal_cv2_resize_byte_for_byte(photo):
    """Every case of one output side in one batched call (the tracker crops all targets at once), equal to the
    written-out official crop, to the host crop and to its canvas variant (`Cropper`)."""
    img = np.ascontiguousarray(PHOTOS[photo]())
    H, W = img.shape[:2]
    by_size: dict[int, list] = {}
    for name, box, factor, size in cases(H, W):
        by_size.setdefault(size, []).append((name, box, factor))
    assert {side(b, f) / s for name, b, f, s in cases(H, W) if "exactly" in name or "same" in name} == {0.5, 1, 2}
    frame = torch.from_numpy(img)
    for size, group in by_size.items():
        boxes = torch.tensor([box for _, box, _ in group], dtype=torch.float64)
        factors = torch.tensor([f for _, _, f in group], dtype=torch.float64)
        crops, resize = device_ops.crop_resize(frame, boxes, factors, size)
        assert crops.shape == (len(group), 3, size, size) and crops.dtype == torch.float32
        for (name, box, factor), crop, rf in zip(group, crops, resize.tolist()):
            got = crop.permute(1, 2, 0).numpy()
            want = opencv_crop(img, box, factor, size)
            assert np.array_equal(got, want), (name, int((got != want).sum()), float(np.abs(got - want).max()))
            assert np.array_equal(got, crop_resize(img, box, factor, size)[0]), name
            assert np.array_equal(got, Cropper()(img, box, factor, size)[0]), name
            assert rf == size / side(box, factor), name
    assert not opencv_crop(img, cases(H, W)[-1][1], 2.0, 64).any()   # the window that misses the frame: all zero


def test_random_windows_equal_cv2_resize():
    """Random boxes (inside, across the borders, tiny to frame-sized) with the tracker's factors and output sides,
    and odd sides, on a photo and on noise (every value differs from its neighbours: no rounding hides)."""
    rng = np.random.default_rng(7)
    photo = np.ascontiguousarray(skimage.data.coffee())
    noise = rng.integers(0, 256, (173, 251, 3), dtype=np.uint8)
    for img in (photo, noise):
        H, W = img.shape[:2]
        for size in (64, 128, 192, 256, 384, 45, 99):
            boxes = []
            for _ in range(6):
                w, h = rng.uniform(2, W * 0.8), rng.uniform(2, H * 0.8)
                boxes.append([rng.uniform(-0.5 * w, W - 0.5 * w), rng.uniform(-0.5 * h, H - 0.5 * h), w, h])
            factor = float(rng.choice([2.0, 4.0, 5.0]))
            crops, _ = device_ops.crop_resize(torch.from_numpy(img), torch.tensor(boxes, dtype=torch.float64),
                                              factor, size)
            for box, crop in zip(boxes, crops):
                want = opencv_crop(img, box, factor, size)
                assert np.array_equal(crop.permute(1, 2, 0).numpy(), want), (box, factor, size)


def test_device_tracker_boxes_equal_the_host_trackers_on_a_real_clip(frames):
    """The embedded model on carphone: the same crops give the same network inputs, so every box and score is the
    host tracker's exactly (with the float crop, the second box was 10 px off within these 11 frames)."""
    backend = TorchBackend.from_checkpoint(None)
    host, dev = Tracker(backend), DeviceTracker(backend, device="cpu")
    init = [[60.0, 20.0, 50.0, 60.0], [100.0, 70.0, 40.0, 40.0]]
    host.initialize_many(frames[0], init)
    dev.initialize_many(frames[0], init)
    assert np.array_equal(dev.templates.numpy(), host.templates)
    for f in frames[1:]:
        for a, b in zip(host.track_many(f), dev.track_many(f)):
            assert list(a.box) == list(b.box) and a.score == b.score
