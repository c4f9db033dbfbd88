"""Device pre/post (runtime/device_ops.py) vs the numpy reference: crops, normalization, Hann window, decode,
map-back and clip, on the CPU and on CUDA."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from droptrack.geometry import (clip_box, crop_params, decode_box, hann2d, map_box_back, normalize,
                                sample_target)
from droptrack.runtime import device_ops as dops
from helpers import needs_cuda

# The default crop (quantize=True) repeats cv2's fixed-point uint8 INTER_LINEAR in integers: equal bytes
# (tests/test_device_crop_matches_opencv.py). The float crop (quantize=False, grid_sample on the float frame) equals
# F.interpolate(bilinear, align_corners=False, antialias=False) of the padded float crop up to float32 grid rounding.

pytestmark = pytest.mark.usefixtures("one_thread")   # one_thread: conftest.py


def random_crop_cases(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for t in range(n):
        H, W = (int(v) for v in rng.integers(40, 300, 2))
        img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        if t % 2:
            img = cv2.GaussianBlur(img, (5, 5), 2)
        w, h = rng.uniform(3, W * 0.8), rng.uniform(3, H * 0.8)
        box = [rng.uniform(-0.5 * w, W - 0.5 * w), rng.uniform(-0.5 * h, H - 0.5 * h), w, h]
        if t % 7 == 0:   # touch the right/bottom border exactly (the '+1' quirk)
            box[0], box[1] = W - w, H - h
        yield img, box, float(rng.choice([2.0, 4.0, 5.0])), int(rng.choice([32, 64, 128, 256]))


def test_crop_matches_cv2_reference():
    """The official `sample_target` (copyMakeBorder + cv2.resize) byte for byte; the float crop missed ~6 % of the
    values by one grey level."""
    checked = 0
    for img, box, factor, size in random_crop_cases(80):
        try:
            ref, rf = sample_target(img, box, factor, size)
        except Exception:  # noqa: BLE001 - reference refuses crops fully outside the image
            continue
        out, rf_t = dops.crop_resize(torch.from_numpy(img), torch.tensor([box], dtype=torch.float64), factor, size)
        assert rf_t.item() == rf
        assert np.array_equal(out[0].permute(1, 2, 0).numpy(), ref), (box, factor, size)
        checked += 1
    assert checked > 60


def test_crop_equals_interpolate_on_padded_float_crop():
    for img, box, factor, size in random_crop_cases(30, seed=1):
        p = crop_params(box, factor, img.shape[:2])
        x2, y2 = p.x1 + p.crop_sz, p.y1 + p.crop_sz
        patch = torch.from_numpy(img).float()[p.y1 + p.pad_t: y2 - p.pad_b, p.x1 + p.pad_l: x2 - p.pad_r]
        if patch.numel() == 0:
            continue
        patch = F.pad(patch.permute(2, 0, 1)[None], (p.pad_l, p.pad_r, p.pad_t, p.pad_b))
        ref = F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
        out, _ = dops.crop_resize(torch.from_numpy(img), torch.tensor([box], dtype=torch.float64), factor, size,
                                  quantize=False)
        assert (out[0] - ref[0]).abs().max().item() < 0.05


def test_padding_quirk_discards_last_column_and_row():
    img = np.full((50, 60, 3), 200, dtype=np.uint8)
    box = [40.0, 30.0, 20.0, 20.0]          # crop reaches past the right and bottom border
    ref, _ = sample_target(img, box, 2.0, 40)
    out, _ = dops.crop_resize(torch.from_numpy(img), torch.tensor([box], dtype=torch.float64), 2.0, 40)
    assert np.array_equal(out[0].permute(1, 2, 0).numpy(), ref.astype(np.float32))


def test_normalize_and_hann_equal_reference():
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    ours = dops.Normalizer()(torch.from_numpy(crops).float().permute(0, 3, 1, 2))
    ref = np.concatenate([normalize(c) for c in crops])
    assert np.array_equal(ours.numpy(), ref)
    for f in (8, 16, 24):
        assert np.array_equal(dops.hann2d_t(f).numpy(), hann2d(f))


def test_decode_mapback_clip_exact():
    rng = np.random.default_rng(3)
    H, W, S, feat = 144, 176, 128, 8
    for _ in range(20):
        n = 3
        score = rng.random((n, 1, feat, feat), dtype=np.float32)
        size = rng.random((n, 2, feat, feat), dtype=np.float32)
        offset = rng.random((n, 2, feat, feat), dtype=np.float32)
        states = [[float(rng.uniform(-20, W)), float(rng.uniform(-20, H)), float(rng.uniform(10, 90)),
                   float(rng.uniform(10, 90))] for _ in range(n)]
        window = hann2d(feat)
        boxes, peaks = decode_box(window * score, size, offset)
        st = torch.tensor(states, dtype=torch.float64)
        crop_sz, _, _ = dops.crop_windows(st, 4.0)
        resize = dops._rdiv(S, crop_sz)
        tb, tp = dops.decode(dops.hann2d_t(feat) * torch.from_numpy(score), torch.from_numpy(size),
                             torch.from_numpy(offset))
        assert np.array_equal(tb.numpy(), boxes) and np.array_equal(tp.numpy(), peaks)
        out = dops.map_back_clip(tb, st, resize, S, (H, W)).tolist()
        for i in range(n):
            rf = S / crop_params(states[i], 4.0, (H, W)).crop_sz
            assert resize[i].item() == rf
            pred = (boxes[i] * S / rf).tolist()
            assert out[i] == clip_box(map_box_back(pred, states[i], S, rf), H, W, margin=10)


@pytest.mark.gpu
@needs_cuda
def test_device_ops_cuda_equal_cpu():
    for img, box, factor, size in random_crop_cases(10, seed=5):
        st = torch.tensor([box], dtype=torch.float64)
        c, rc = dops.crop_resize(torch.from_numpy(img), st, factor, size)
        g, rg = dops.crop_resize(torch.from_numpy(img).cuda(), st.cuda(), factor, size)
        assert rc.item() == rg.item()
        assert torch.equal(c, g.cpu())   # integer arithmetic: the same bytes on every device
