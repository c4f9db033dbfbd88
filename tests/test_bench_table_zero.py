"""dt bench's table read 'ΔAUC -0.00' for an INT8 row whose AUC equalled the reference's: the two means of the same
per-sequence scores, summed in another order, differ by 1e-14, and a rounded negative zero read as a drop."""

from __future__ import annotations

from droptrack.eval.bench_gates import DeltaCI
from droptrack.eval.bench_reference import Parity
from droptrack.eval.bench_rows import BenchRow
from droptrack.eval.bench_view import HEADERS, row_cells


def _cells(delta: float, low: float, high: float) -> dict[str, str]:
    row = BenchRow("int8", "m.onnx", "onnx", "int8", accuracy={"auc": 0.5932539682539681})
    row.parity = Parity("ref.pt", "0" * 64, delta, 0.744, 0.164, 116, ci=DeltaCI(delta, low, high, 4))
    return dict(zip(HEADERS, row_cells(row)))


def test_a_delta_that_rounds_to_zero_reads_plus_zero():
    cells = _cells(-1.1102230246251565e-14, -1.5e-14, 2.9365)
    assert cells["ΔAUC"] == "+0.00" and cells["ΔAUC 95% CI"] == "[+0.00, +2.94]"
    assert cells["AUC"] == "59.33"


def test_a_real_drop_keeps_its_sign():
    cells = _cells(-0.006, -2.3016, -0.004)
    assert cells["ΔAUC"] == "-0.01" and cells["ΔAUC 95% CI"] == "[-2.30, +0.00]"
