"""The cosine windows the score map is multiplied by: the official one (** WINDOW_POWER), and with GRID_WINDOW
'target' one per crop, moved from the grid crop's centre to the target's previous position, where the official
procedure centres it."""

from __future__ import annotations

import math

import numpy as np

from droptrack.geometry import hann1d, hann2d


def _powered(window: np.ndarray, power: float | None) -> np.ndarray:
    """`window` ** WINDOW_POWER in float32; None: `window` itself (the official window)."""
    return window if power is None else (window ** power).astype(np.float32)


def score_window(feat_size: int, power: float | None) -> np.ndarray:
    """(1,1,F,F) float32 window the score map is multiplied by: the official cosine window ** WINDOW_POWER."""
    return _powered(hann2d(feat_size), power)


def moved_hann1d(size: int, shift: float) -> np.ndarray:
    """The official 1-D cosine window moved by `shift` cells, (F,) float32: 0.5 (1 - cos(2 pi (k - shift) / (F + 1)))
    for k = 1..F, 0 where k - shift leaves (0, F + 1); `shift` 0 is `hann1d` bit for bit."""
    if shift == 0:
        return hann1d(size)
    k = np.arange(1, size + 1, dtype=np.float64) - shift
    w = 0.5 * (1 - np.cos(2 * math.pi * k / (size + 1)))
    return np.where((k > 0) & (k < size + 1), w, 0.0).astype(np.float32)


def moved_windows(feat_size: int, shifts: list[tuple[float, float]], power: float | None) -> np.ndarray:
    """(N,1,F,F) float32 score windows, one per crop, each centred `shifts[i]` (x, y) cells off the crop's centre:
    the outer product of `moved_hann1d` columns and rows, ** WINDOW_POWER."""
    out = np.empty((len(shifts), 1, feat_size, feat_size), np.float32)
    for i, (sx, sy) in enumerate(shifts):
        out[i, 0] = moved_hann1d(feat_size, sy)[:, None] * moved_hann1d(feat_size, sx)[None, :]
    return _powered(out, power)
