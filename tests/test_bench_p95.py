"""dt bench reported the median (p50) and p99 latency but not p95; bench.json's e2e_ms and model_ms now hold p95 too,
and the table (terminal and bench.md) has an 'ms p95' column between 'ms p50' and 'ms p99', all from the same timed
frames. Expected values are worked by hand with numpy's default (linear) percentile: on n sorted samples, p lies at
rank (n - 1) * p / 100, between the two nearest samples."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from droptrack.eval.bench_rows import BenchRow
from droptrack.eval.bench_timing import StageTimer, latency_from_times
from droptrack.eval.bench_view import HEADERS, row_cells

# ten per-frame ms; sorted: 10 11 11 12 12 12 13 14 30 50
SAMPLES_MS = [10.0, 12.0, 11.0, 30.0, 13.0, 14.0, 12.0, 50.0, 11.0, 12.0]
# p50: rank 4.5 -> 12 + 0.5 * (12 - 12) = 12; p95: rank 8.55 -> 30 + 0.55 * (50 - 30) = 41;
# p99: rank 8.91 -> 30 + 0.91 * (50 - 30) = 48.2; p90: rank 8.1 -> 30 + 0.1 * 20 = 32; mean 175 / 10 = 17.5
EXPECTED = {"mean": 17.5, "p50": 12.0, "p90": 32.0, "p95": 41.0, "p99": 48.2}


def test_a_baselines_latency_has_the_hand_computed_p95():
    times = [np.array([0.5] + [ms / 1000.0 for ms in SAMPLES_MS])]   # seconds; frame 0 is the init
    lat = latency_from_times(times)
    assert lat.e2e_ms == pytest.approx(EXPECTED) and lat.model_ms == pytest.approx(EXPECTED)
    assert set(lat.to_dict()["e2e_ms"]) == set(EXPECTED)   # bench.json's keys


class _Timed:
    """A tracker whose every frame takes the next of SAMPLES_MS: pre 1 ms, infer the rest, post 0."""

    def __init__(self) -> None:
        self.backend = SimpleNamespace(latencies_ms=[])
        self.left = list(SAMPLES_MS)

    def initialize(self, frame, box) -> None:
        pass

    def track_timed(self, frame):
        ms = self.left.pop(0)
        self.backend.latencies_ms.append(ms - 1.0)
        return [SimpleNamespace(box=[0, 0, 1, 1], score=1.0)], {"pre": 1.0, "infer": ms - 1.0, "post": 0.0}


def test_a_model_rows_end_to_end_p95_and_its_table_cell():
    timer = StageTimer(total=len(SAMPLES_MS), warmup=0, max_frames=len(SAMPLES_MS)).wrap(_Timed())
    timer.initialize(None, [0, 0, 1, 1])
    for _ in SAMPLES_MS:
        timer.track(None)
    lat = timer.latency()
    assert lat.e2e_ms == pytest.approx(EXPECTED)
    assert lat.model_ms["p95"] == pytest.approx(40.0)   # the infer stage alone: every sample 1 ms less
    row = BenchRow("m", "m.onnx", "onnx", latency=lat)
    cells = dict(zip(HEADERS, row_cells(row)))
    assert HEADERS.index("ms p50") + 1 == HEADERS.index("ms p95") == HEADERS.index("ms p99") - 1
    assert (cells["ms p50"], cells["ms p95"], cells["ms p99"]) == ("12.00", "41.00", "48.20")
