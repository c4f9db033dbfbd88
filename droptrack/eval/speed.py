"""Tracking speed (FPS) from per-frame `_time.txt` seconds, defined as the chosen toolkit defines it.

The toolkits disagree, and the two definitions differ by more than rounding (the mean of 1/t is never below
frames / total seconds, and a few slow frames pull them apart):
* GOT-10k toolkit (ExperimentGOT10k.report; the GOT-10k server reads the same `_time.txt` files): drop NaN and
  non-positive times, then the mean over all frames (every repetition column, frame 0 included) of 1 / t, the
  frames of all sequences pooled.
* OSTrack / pytracking: the analysis scripts report no speed; the runner prints frames / total seconds of a
  sequence (frame 0's initialization included). droptrack pools that over the sequences.
* The TrackingNet devkit reports no speed; frames / total seconds is used there too.
A frame with time 0 (or below, or NaN) was not processed (`dt eval --realtime-fps` skips frames) and is left out
under both definitions.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

MEAN_INVERSE = "mean of 1/t over frames (GOT-10k toolkit)"
FRAMES_PER_SECOND = "frames / total tracker seconds (OSTrack/pytracking runner)"


def fps_definition(protocol: str) -> str:
    """How tracker_fps defines FPS under a protocol (shown next to every FPS number)."""
    return MEAN_INVERSE if protocol == "got10k-toolkit" else FRAMES_PER_SECOND


def tracker_fps(times: Sequence[np.ndarray | None], protocol: str) -> float | None:
    """FPS of the sequences that have times (None entries: no time file), or None when no frame was timed."""
    flat = [np.asarray(x, np.float64).reshape(-1) for x in times if x is not None]
    if protocol == "got10k-toolkit":   # the toolkit drops only NaN and t <= 0 (+inf stays: 1/inf = 0 in the mean)
        t = np.concatenate(flat) if flat else np.zeros(0)
        t = t[~np.isnan(t)]
        t = t[t > 0]
        return float(np.mean(1.0 / t)) if len(t) else None
    kept = [x[np.isfinite(x) & (x > 0)] for x in flat]
    frames, seconds = sum(len(x) for x in kept), sum(float(x.sum()) for x in kept)
    return frames / seconds if frames and seconds > 0 else None
