"""Training targets: the CenterNet Gaussian score map of OSTrack (ostrack_spec.md 5.2)."""

from __future__ import annotations

import numpy as np
import torch


def gaussian_radius(w: float, h: float, min_overlap: float = 0.7) -> float:
    """CornerNet's (buggy) radius formula as used by OSTrack, in feature cells."""
    b1 = h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1 ** 2 - 4 * c1)) / 2
    b2 = 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + np.sqrt(b2 ** 2 - 16 * c2)) / 2
    b3 = -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + np.sqrt(b3 ** 2 - 16 * min_overlap * c3)) / 2
    return float(min(r1, r2, r3))


def _gaussian(radius: int) -> np.ndarray:
    d = 2 * radius + 1
    sigma = d / 6
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    g = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    g[g < np.finfo(g.dtype).eps * g.max()] = 0
    return g


def gaussian_map(box_norm, feat_sz: int) -> np.ndarray:
    """(F,F) float32 target for one normalised (x,y,w,h) search box; peak 1 at the rounded centre cell."""
    b = np.asarray(box_norm, dtype=np.float32) * feat_sz
    wh = b[2:]
    centre = torch.round(torch.from_numpy(b[:2] + wh / 2)).numpy()  # half-to-even, as torch.round
    radius = int(max(0.0, gaussian_radius(float(wh[0]), float(wh[1]))))
    fmap = np.zeros((feat_sz, feat_sz), dtype=np.float32)
    x, y = int(centre[0]), int(centre[1])
    g = _gaussian(radius)
    left, right = min(x, radius), min(feat_sz - x, radius + 1)
    top, bottom = min(y, radius), min(feat_sz - y, radius + 1)
    if min(right + left, bottom + top) <= 0 or x < 0 or y < 0:
        return fmap
    patch = g[radius - top:radius + bottom, radius - left:radius + right]
    region = fmap[y - top:y + bottom, x - left:x + right]
    if min(patch.shape) > 0 and min(region.shape) > 0:
        fmap[y - top:y + bottom, x - left:x + right] = np.maximum(region, patch)
    return fmap
