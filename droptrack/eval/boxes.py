"""Shared input checks for the metric modules (a leaf module: imports nothing from droptrack.eval)."""

from __future__ import annotations

from typing import Any

import numpy as np

from droptrack.errors import InputError


def as_boxes(a: Any, what: str = "boxes", name: str = "sequence") -> np.ndarray:
    """(N, 4) float64 copy of x, y, w, h rows, or InputError naming the sequence."""
    arr = np.array(a, dtype=np.float64, copy=True)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"{name}: {what} have shape {arr.shape}, expected (N, 4) rows of x, y, w, h; "
                         "pass one row per frame")
    return arr


def mean_or_nan(x: np.ndarray) -> float:
    """np.mean without the empty-array warning (NaN when empty)."""
    return float(np.mean(x)) if len(x) else float("nan")
