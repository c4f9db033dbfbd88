"""The crop grid's geometry (CROP_GRID, GRID_WINDOW; runtime/extensions.py): the search window put on a grid of
its own size, and where the target's previous position lies in that window."""

from __future__ import annotations

import math


def grid_anchor(box: list[float], factor: float, grid: float | None) -> list[float]:
    """The square box whose official crop window sits on a grid of `grid` x its side (side on the nearest rung of
    a geometric ladder of ratio 1 + grid, corner on multiples of grid x side) and whose centre is the window's
    centre, so the official map-back is exact; None: `box` unchanged."""
    x, y, w, h = box
    if grid is None or not (w * h > 0 and math.isfinite(w * h)):
        return list(box)    # (an empty or broken box: crop_params gives its one-line error)
    step = math.log1p(grid)
    side = max(1, round(math.exp(step * round(math.log(math.sqrt(w * h) * factor) / step))))
    q = grid * side
    x1 = round(q * round((x + 0.5 * w - 0.5 * side) / q))
    y1 = round(q * round((y + 0.5 * h - 0.5 * side) / q))
    s = (side - 1e-6) / factor
    return [x1 + 0.5 * side - 0.5 * s, y1 + 0.5 * side - 0.5 * s, s, s]


def box_centre(box: list[float]) -> tuple[float, float]:
    """A box's centre (x, y)."""
    return box[0] + 0.5 * box[2], box[1] + 0.5 * box[3]


def window_shift(anchor: list[float], crop_box: list[float], factor: float) -> tuple[float, float]:
    """Where `anchor`'s centre lies in the search crop of `crop_box` (the grid's box, its side x `factor` the crop's
    side), as (x, y) fractions of the crop's side from the crop's centre; (0, 0) where the two centres coincide."""
    (ax, ay), (cx, cy) = box_centre(anchor), box_centre(crop_box)
    side = math.sqrt(crop_box[2] * crop_box[3]) * factor
    return ((ax - cx) / side, (ay - cy) / side) if side > 0 else (0.0, 0.0)
