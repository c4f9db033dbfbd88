"""bench.json's ΔAUC interval names its bootstrap seed (it did not, so a reader could not tell whether a rerun gives
the same interval), and the interval is the percentile interval of the mean over resampled sequences: checked here
against an exact enumeration of every resample of 5 sequences (5**5 equally likely draws)."""

from __future__ import annotations

import itertools

import numpy as np

from droptrack.eval.bench_gates import paired_bootstrap_ci


def _exact_interval(d: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    means = np.array([d[list(idx)].mean() for idx in itertools.product(range(d.size), repeat=d.size)])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def test_the_interval_matches_the_exact_resampling_distribution_and_names_its_seed():
    art = np.array([55.0, 61.5, 40.25, 70.0, 12.0])
    ref = np.array([60.0, 61.0, 48.0, 69.5, 20.0])
    ci = paired_bootstrap_ci(art, ref)
    low, high = _exact_interval(art - ref)
    assert ci.delta == (art - ref).mean() == -3.95
    assert abs(ci.low - low) < 0.25 and abs(ci.high - high) < 0.25, (ci, low, high)   # 10,000 draws of 3,125
    d = ci.to_dict()
    assert d["seed"] == 0 and d["samples"] == 10000
    again = paired_bootstrap_ci(art, ref, samples=d["samples"], level=d["level"], seed=d["seed"])
    assert (again.low, again.high) == (ci.low, ci.high)
    assert paired_bootstrap_ci(art, ref, seed=1).to_dict()["seed"] == 1
