"""ONNX Runtime sessions opened without a thread count take OMP_NUM_THREADS as torch and `dt run` do (ORT's own
pool ignores the variable: export parity checks spun on every core beside other work); an explicit count wins."""

from __future__ import annotations

import onnxruntime as ort

from droptrack.engine.onnxruntime_backend import session_options


def test_threads_zero_follows_omp_num_threads_and_an_explicit_count_wins(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert session_options(ort).intra_op_num_threads == 3
    assert session_options(ort, threads=2).intra_op_num_threads == 2
    for unset in ("", "many", "0"):   # not a positive count: ORT's default (0, every core)
        monkeypatch.setenv("OMP_NUM_THREADS", unset)
        assert session_options(ort).intra_op_num_threads == 0
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert session_options(ort).intra_op_num_threads == 0
