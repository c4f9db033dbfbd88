"""The opt-in hard attribute `silhouette`: the target's alpha is an object-shaped region of its own crop.

Real targets are not rectangles or ellipses: a person has arms and legs, a rider a bike, a pole a collar, and the
box must reach those thin parts. silhouette_cut segments the target's crop with GrabCut (initialised with the crop
inset by 6 %), keeps the largest connected foreground region with its holes filled, and crops pixels and alpha to
that region's bounding box, so the box (the bounding box of alpha > 0.5, synth_render) is the silhouette's own
extent and reaches every limb. A segmentation that is too small (under 30 % of the crop, or under 60 % of either
side) or nearly the whole rectangle (over 90 % of its box) is replaced by a random smooth star-shaped blob, so a
sequence tagged `silhouette` always has an irregular target. GrabCut draws its initial clusters from OpenCV's
random generator: it is seeded from the sequence's generator first, so a set is the same on every run.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SEGMENT_SIDE = 128   # GrabCut runs on the crop scaled to at most this side (speed; the mask is scaled back)
INSET = 0.06         # GrabCut's rectangle: the crop inset by this share of its shorter side
MIN_AREA, MIN_SIDE, MAX_FILL = 0.30, 0.60, 0.90


def _largest_filled(mask: np.ndarray) -> np.ndarray:
    """The largest outer contour of a binary mask, filled (uint8 0/1; all zeros for an empty mask)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros(mask.shape, np.uint8)
    if contours:
        cv2.drawContours(out, [max(contours, key=cv2.contourArea)], -1, 1, thickness=-1)
    return out


def segment(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """GrabCut's foreground of `rgb` (float or uint8, H x W x 3) as a filled single-region uint8 mask of its size."""
    h, w = rgb.shape[:2]
    s = min(1.0, SEGMENT_SIDE / max(h, w))
    small = cv2.resize(np.clip(rgb, 0, 255).astype(np.uint8), (max(8, round(w * s)), max(8, round(h * s))),
                       interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    m = max(1, round(INSET * min(sh, sw)))
    mask = np.zeros((sh, sw), np.uint8)
    cv2.setRNGSeed(int(rng.integers(2 ** 31)))   # GrabCut's k-means initialisation: reproducible per sequence
    try:
        cv2.grabCut(small, mask, (m, m, sw - 2 * m, sh - 2 * m), np.zeros((1, 65)), np.zeros((1, 65)), 3,
                    cv2.GC_INIT_WITH_RECT)
    except cv2.error:   # a flat crop: GrabCut cannot fit its colour models
        return np.zeros((h, w), np.uint8)
    fg = _largest_filled((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD))
    return (cv2.resize(fg.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5).astype(np.uint8)


def blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random smooth star-shaped region filling an h x w box (uint8 0/1): 16 radii, log-normal, circularly
    smoothed, so that it has bulges and waists but no rectangle's corners."""
    k = 16
    r = np.exp(rng.normal(0.0, 0.35, k))
    r = (np.roll(r, 1) + 2 * r + np.roll(r, -1)) / 4
    ang = 2 * math.pi * (np.arange(k) + rng.uniform(-0.3, 0.3, k)) / k
    x, y = r * np.cos(ang), r * np.sin(ang)
    x = (x - x.min()) / max(np.ptp(x), 1e-6) * (w - 1)
    y = (y - y.min()) / max(np.ptp(y), 1e-6) * (h - 1)
    out = np.zeros((h, w), np.uint8)
    cv2.fillPoly(out, [np.stack([x, y], axis=1).round().astype(np.int32)], 1)
    return out


def _extent(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Row and column bounds (y0, y1, x0, x1; ends exclusive) of a mask's pixels; None for an empty mask."""
    ys, xs = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1) if len(xs) else None


def usable(mask: np.ndarray) -> bool:
    """A segmentation that makes a target: large enough, spanning most of both sides, and not a rectangle."""
    h, w = mask.shape
    ext = _extent(mask)
    if ext is None:
        return False
    bh, bw = ext[1] - ext[0], ext[3] - ext[2]
    area = int(mask.sum())
    return area >= MIN_AREA * h * w and bw >= MIN_SIDE * w and bh >= MIN_SIDE * h and area <= MAX_FILL * bw * bh


def silhouette_cut(rng: np.random.Generator, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The target's pixels and alpha cropped to its silhouette's bounding box (GrabCut, else a blob; see above)."""
    h, w = rgb.shape[:2]
    mask = segment(rng, rgb)
    if not usable(mask):
        mask = blob(rng, h, w)
    y0, y1, x0, x1 = _extent(mask)
    alpha = mask[y0:y1, x0:x1].astype(np.float32)
    return np.ascontiguousarray(rgb[y0:y1, x0:x1], dtype=np.float32), alpha
