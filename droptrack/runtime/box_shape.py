"""The extensions' rules for a box's shape: score-gated size smoothing (SIZE_LR) and the aspect prior (ASPECT_PRIOR).

ASPECT_PRIOR a (report only): the box a target reports keeps its centre and area, and its aspect ratio r = w / h
becomes r^(1-a) * r0^a, r0 the init box's (log-space shrinkage toward the first frame's shape, as SiamFC and DSST
keep that shape outright). The network's width/height ratio is its noisiest output on real footage; the user's first
box is the best shape there is. The tracker's state, and so every crop, is left alone, so FP16/INT8 take FP32's
crops as before. Plain Python floats: the host and the CUDA trackers call the same code.
"""

from __future__ import annotations

import math
from typing import Any


def smooth_size(prev: list[float], pred: list[float], score: float, ext: Any) -> list[float]:
    """x,y,w,h: the predicted centre with w/h moved from `prev` toward `pred` at the score-gated rate (`ext`: the
    extensions.TrackerExt, its SIZE_LR and ASPECT_PENALTY)."""
    if ext.size_lr is None:
        return list(pred)
    pw, ph = prev[2], prev[3]
    w, h = pred[2], pred[3]
    lr = ext.size_lr * max(0.0, float(score))
    if ext.aspect_penalty > 0 and w > 0 and h > 0 and pw > 0 and ph > 0:
        change = (w / h) / (pw / ph)
        lr *= math.exp(-ext.aspect_penalty * (max(change, 1.0 / change) - 1.0))
    lr = min(1.0, lr)
    nw, nh = pw + lr * (w - pw), ph + lr * (h - ph)
    cx, cy = pred[0] + 0.5 * w, pred[1] + 0.5 * h
    return [cx - 0.5 * nw, cy - 0.5 * nh, nw, nh]


def toward_aspect(box: list[float], aspect: float, weight: float) -> list[float]:
    """x,y,w,h with the same centre and area and the aspect ratio w/h moved `weight` of the way (in log space)
    toward `aspect` (0: unchanged, 1: exactly `aspect`); a box without area, or no aspect, is returned as is."""
    x, y, w, h = (float(v) for v in box)
    if not (w > 0 and h > 0 and aspect > 0) or weight == 0:
        return [x, y, w, h]
    ratio = math.exp((1.0 - weight) * math.log(w / h) + weight * math.log(aspect))
    area = w * h
    nw, nh = math.sqrt(area * ratio), math.sqrt(area / ratio)
    return [x + 0.5 * (w - nw), y + 0.5 * (h - nh), nw, nh]
