"""What the tracker returns per target per frame (`TrackResult`) and the score under which it flags a target lost."""

from __future__ import annotations

from dataclasses import dataclass

LOST_THRESHOLD = 0.25   # a peak score under it flags the target lost (dt run --lost-threshold's default)


@dataclass
class TrackResult:
    """One target's box (x,y,w,h floats, image pixels), the peak of the windowed score map, whether that peak is
    under the tracker's `lost_threshold` (the box is still the prediction; callers decide what lost means to them),
    and `reacq`: whether re-acquisition's wide search (REACQ_FACTOR) made this box, None where re-acquisition is off."""

    box: list[float]
    score: float
    lost: bool = False
    reacq: bool | None = None
