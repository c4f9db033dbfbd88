"""The anchor's grey levels made per region (runtime/grey.py) are OpenCV's whole-frame ones, bit for bit, and read only
a small part of a large frame."""

from __future__ import annotations


import cv2
import numpy as np
import pytest
import torch

from droptrack.runtime.anchor import ScaleFilter, TargetAnchor, model_size
from droptrack.runtime.grey import GreyFrame, _area_region, area_taps


def frame(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random RGB frame (smooth: rounding ties in the area average happen as on real footage)."""
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 1.5)


class Spy:
    """A frame that records which pixels are read from it."""

    def __init__(self, rgb: np.ndarray):
        self.rgb, self.shape, self.read = rgb, rgb.shape, 0

    def __getitem__(self, idx):
        part = self.rgb[idx]
        self.read += part.shape[0] * part.shape[1]
        return part


def filter_scales(w: float, h: float) -> tuple[int, int, list[tuple[float, float]]]:
    """The scale filter's patch size and its 17 scales for a w x h box (anchor.ScaleFilter's own)."""
    mw, mh = model_size(w, h)
    return mw, mh, [(mw / (w * s), mh / (h * s)) for s in ScaleFilter((mw, mh), np.zeros(0), np.zeros(0)).factors]


@pytest.mark.parametrize("n_src,scale", [(640, 2.7), (97, 1.5), (3840, 37.3), (360, 1.01), (1080, 3.0000001)])
def test_area_taps_match_opencvs_resize_of_a_single_row(n_src, scale):
    row = np.random.default_rng(n_src).integers(0, 256, (1, n_src), dtype=np.uint8)
    want = cv2.resize(row, None, fx=1 / scale, fy=1.0, interpolation=cv2.INTER_AREA)[0].astype(np.float64)
    idx, w = area_taps(n_src, scale, 0, want.size)
    assert idx.shape[0] == want.size and idx.min() >= 0 and idx.max() < n_src
    assert np.abs((row[0][idx] * w.astype(np.float64)).sum(1) - want).max() <= 0.5 + 1e-4
    assert np.allclose(w.sum(1), 1.0, atol=1e-5)           # each output pixel is a mean of its cell


@pytest.mark.parametrize("seed", range(6))
def test_area_region_is_opencvs_whole_resize_cut(seed):
    rng = np.random.default_rng(seed)
    h, w = [(360, 640), (1080, 1920), (37, 53)][seed % 3]
    grey = cv2.cvtColor(frame(h, w, seed), cv2.COLOR_RGB2GRAY)
    for f in rng.uniform(0.03, 0.98, 8):
        whole = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        r0, c0 = rng.integers(0, whole.shape[0]), rng.integers(0, whole.shape[1])
        r1, c1 = rng.integers(r0 + 1, whole.shape[0] + 1), rng.integers(c0 + 1, whole.shape[1] + 1)
        got = _area_region(lambda a, b, c, d: grey[a:b, c:d], grey.shape, 1 / f, r0, r1, c0, c1)
        assert np.array_equal(got, whole[r0:r1, c0:c1]), f


@pytest.mark.parametrize("size", [(360, 640), (1080, 1920), (45, 70)])
def test_patches_per_region_equal_the_whole_frames_bit_for_bit(size):
    h, w = size
    rgb = frame(h, w, h)
    reference = GreyFrame(rgb, whole=True)
    rng = np.random.default_rng(w)
    for _ in range(60):   # boxes of every size, inside, across the edge and wholly outside the frame
        bw, bh = rng.uniform(4, 0.8 * w), rng.uniform(4, 0.8 * h)
        cx, cy = rng.uniform(-0.5 * w, 1.5 * w), rng.uniform(-0.5 * h, 1.5 * h)
        mw, mh, scales = filter_scales(bw, bh)
        f = min(1.0, 1.5 * mw / bw)
        got = GreyFrame(rgb).patches(f, cx, cy, scales, mw, mh)
        for a, b in zip(reference.patches(f, cx, cy, scales, mw, mh), got):
            assert np.array_equal(a, b), (bw, bh, cx, cy)


@pytest.mark.parametrize("f,cx,cy", [(1.0, 900.0, 180.0), (0.3, 320.0, -200.0), (0.3, -300.0, -200.0)])
def test_a_target_wholly_outside_the_frame_repeats_its_edge_as_opencv_does(f, cx, cy):
    """The patch reads the frame's edge row or column only; OpenCV warps a 1-px-wide source its own way."""
    rgb = frame(360, 640, 7)
    mw, mh, scales = filter_scales(100.0, 150.0)
    got = GreyFrame(rgb).patches(f, cx, cy, scales, mw, mh)
    want = GreyFrame(rgb, whole=True).patches(f, cx, cy, scales, mw, mh)
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_a_small_target_in_a_4k_frame_reads_a_small_region():
    spy = Spy(frame(2160, 3840, 1))
    mw, mh, scales = filter_scales(61.0, 90.0)
    f = 1.5 * mw / 61.0
    got = GreyFrame(spy).patches(f, 2000.0, 1000.0, scales, mw, mh)
    assert spy.read < 0.005 * 2160 * 3840
    want = GreyFrame(spy.rgb, whole=True).patches(f, 2000.0, 1000.0, scales, mw, mh)
    assert all(np.array_equal(a, b) for a, b in zip(got, want))
    spy.read = 0   # a target that fills half the frame: OpenCV's whole-frame path
    mw, mh, scales = filter_scales(1800.0, 1000.0)
    GreyFrame(spy).patches(1.5 * mw / 1800.0, 1900.0, 1000.0, scales, mw, mh)
    assert spy.read == 2160 * 3840


@pytest.mark.parametrize("f", [0.5, 1 / 3, 0.25])
def test_a_shrink_by_a_whole_factor_is_opencvs_own(f):
    """OpenCV shrinks by 2, 3, 4 ... with its own integer arithmetic (its ties round up at 2): same numbers here."""
    rgb = frame(720, 1280, 4)
    mw, mh, scales = filter_scales(40.0 / f, 40.0 / f)
    got = GreyFrame(rgb).patches(f, 611.0, 333.0, scales, mw, mh)
    want = GreyFrame(rgb, whole=True).patches(f, 611.0, 333.0, scales, mw, mh)
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_a_tensor_frame_gives_the_arrays_patches():
    rgb = frame(360, 640, 3)
    mw, mh, scales = filter_scales(50.0, 80.0)
    a = GreyFrame(torch.from_numpy(rgb)).patches(0.4, 300.0, 200.0, scales, mw, mh)
    b = GreyFrame(rgb, whole=True).patches(0.4, 300.0, 200.0, scales, mw, mh)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_views_of_a_frame_give_its_patches():
    """A BGR frame flipped to RGB by a view (negative channel stride) and a crop of a larger frame (strided rows)."""
    big = frame(400, 700, 9)
    rgb = np.ascontiguousarray(big[20:380, 30:670])
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    mw, mh, scales = filter_scales(50.0, 80.0)
    want = GreyFrame(rgb, whole=True).patches(0.45, 300.0, 200.0, scales, mw, mh)
    for view in (bgr[..., ::-1], big[20:380, 30:670]):
        got = GreyFrame(view).patches(0.45, 300.0, 200.0, scales, mw, mh)
        assert all(np.array_equal(x, y) for x, y in zip(got, want))


def test_the_anchors_boxes_over_a_sequence_are_the_whole_frames():
    frames = [frame(720, 1280, 10 + i) for i in range(6)]
    box = [500.0, 300.0, 70.0, 110.0]
    boxes = []
    for whole in (True, False):
        anchor = TargetAnchor.start(GreyFrame(frames[0], whole), box, ncc=True, scale=True)
        out = []
        for i, f in enumerate(frames[1:]):
            pred = [box[0] + 3 * i, box[1] - 2 * i, box[2] * (1 + 0.05 * i), box[3]]
            out.append(anchor.apply(GreyFrame(f, whole), pred, 0.1, 1.0, size="network"))
        boxes.append(out)
    assert boxes[0] == boxes[1]
    assert boxes[0][-1] != [box[0] + 12, box[1] - 8, box[2] * 1.2, box[3]]   # the anchor did change the box


@pytest.mark.gpu
def test_a_cuda_frame_gives_the_arrays_patches():
    rgb = frame(1080, 1920, 8)
    mw, mh, scales = filter_scales(70.0, 120.0)
    got = GreyFrame(torch.from_numpy(rgb).cuda()).patches(0.37, 900.0, 500.0, scales, mw, mh)
    want = GreyFrame(rgb, whole=True).patches(0.37, 900.0, 500.0, scales, mw, mh)
    assert all(np.array_equal(x, y) for x, y in zip(got, want))
