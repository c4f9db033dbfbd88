"""Fixed-size latency statistics: count, sum, min, max and a log-spaced histogram for percentiles.

A run on a camera lasts weeks; per-frame lists would grow ~0.4 KB per frame. This keeps a constant ~14 KB per
stage whatever the run length. Percentiles come from the histogram (200 bins per decade from 1 us to 1000 s, so
a bin spans 1.16 %; the reported value is the bin's geometric centre, clamped to the exact min and max), hence
within 0.6 % of the exact sample percentile.
"""

from __future__ import annotations

import math

import numpy as np

LOW_MS = 1e-3          # 1 us: faster times land in the first bin
DECADES = 9            # up to 1e6 ms = 1000 s: slower times land in the last bin
BINS_PER_DECADE = 200


class LatencyStats:
    """Streaming summary of one stage's times in ms (constant memory)."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.bins = np.zeros(DECADES * BINS_PER_DECADE, dtype=np.int64)

    def add(self, ms: float) -> None:
        """Record one time (ms); non-finite values are ignored."""
        if not math.isfinite(ms):
            return
        self.count += 1
        self.total += ms
        self.min = min(self.min, ms)
        self.max = max(self.max, ms)
        k = int(math.floor(math.log10(max(ms, LOW_MS) / LOW_MS) * BINS_PER_DECADE))
        self.bins[min(max(k, 0), self.bins.size - 1)] += 1

    @property
    def mean(self) -> float:
        """Mean time (nan before the first sample)."""
        return self.total / self.count if self.count else float("nan")

    def percentile(self, q: float) -> float:
        """q-th percentile (0..100) from the histogram, clamped to [min, max]; nan when empty."""
        if not self.count:
            return float("nan")
        rank = max(1, math.ceil(q / 100.0 * self.count))
        k = int(np.searchsorted(np.cumsum(self.bins), rank))
        centre = LOW_MS * 10 ** ((k + 0.5) / BINS_PER_DECADE)
        return float(min(max(centre, self.min), self.max))
