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
    # the part of the (2r+1)^2 window inside the map, also for a centre off the map on any side (as the official
    # draw_gaussian: a target whose centre lies just left of or above the search crop still gets its Gaussian tail)
    x0, x1 = max(x - radius, 0), min(x + radius + 1, feat_sz)
    y0, y1 = max(y - radius, 0), min(y + radius + 1, feat_sz)
    if x1 > x0 and y1 > y0:
        g = _gaussian(radius)
        fmap[y0:y1, x0:x1] = g[y0 - y + radius:y1 - y + radius, x0 - x + radius:x1 - x + radius]
    return fmap
