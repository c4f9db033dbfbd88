"""The live numbers of `dt serve`: per-stage latency over the last frames and the frame rate (thread-safe)."""

from __future__ import annotations

import collections
import threading
import time

import numpy as np

from droptrack.runtime.loop import STAGES

STATS_WINDOW = 300   # frames behind the live latency numbers
FPS_WINDOW = 30      # frames behind the live frame rate


class LiveStats:
    """Stage times (ms) of the last STATS_WINDOW frames and the wall-clock times of the last FPS_WINDOW + 1."""

    def __init__(self, window: int = STATS_WINDOW):
        self._lock = threading.Lock()
        self._times = {s: collections.deque(maxlen=window) for s in STAGES}
        self._stamps: collections.deque = collections.deque(maxlen=FPS_WINDOW + 1)

    def add(self, times: dict[str, float]) -> None:
        """Record a tracked frame's stage times (ms; `total` is their sum) and the moment it was done."""
        with self._lock:
            for k, v in {**times, "total": sum(times.values())}.items():
                self._times[k].append(v)
            self._stamps.append(time.perf_counter())

    def fps(self) -> float | None:
        """Frames per second over the last FPS_WINDOW frames (wall clock, pacing included)."""
        with self._lock:
            s = list(self._stamps)
        return (len(s) - 1) / (s[-1] - s[0]) if len(s) > 1 and s[-1] > s[0] else None

    def stage_times(self) -> dict[str, list[float]]:
        """Per-frame times (ms) of each stage over the last STATS_WINDOW frames, oldest first."""
        with self._lock:
            return {k: list(v) for k, v in self._times.items()}

    def stages(self) -> dict[str, dict[str, float | None]]:
        """Mean and p99 (ms) of each stage over the last frames (None before the first)."""
        out = {}
        for k, v in self.stage_times().items():
            a = np.asarray(v, dtype=np.float64)
            out[k] = {"mean_ms": round(float(a.mean()), 3) if a.size else None,
                      "p99_ms": round(float(np.percentile(a, 99)), 3) if a.size else None}
        return out
