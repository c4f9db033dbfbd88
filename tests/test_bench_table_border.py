"""dt bench's table was printed on a console of a fixed 190 columns: in a pipe, a row with wide cells (a long name, a
failed gate, a wide CI, slow emulated latencies) made it 208 wide and rich cut its right border off."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.cells import cell_len

from droptrack.eval.bench_gates import DeltaCI
from droptrack.eval.bench_reference import Parity
from droptrack.eval.bench_rows import BenchRow
from droptrack.eval.bench_timing import Latency
from droptrack.eval.bench_view import bench_table, table_console


def _row(name: str, status: str, delta: float, ms: float) -> BenchRow:
    row = BenchRow(name, f"{name}.onnx", "onnx", "int8", status=status, accuracy={"auc": 0.7167}, size_mb=7.6)
    row.parity = Parity("ref.pt", "0" * 64, delta, 0.912, 0.164, 116, ci=DeltaCI(delta, delta - 3.1, delta + 2.4, 4))
    row.latency = Latency({"p50": ms}, {"p50": ms, "p95": ms, "p99": ms, "mean": ms}, {}, 100, 5)
    row.target_runtime = "tensorrt"   # an ONNX row run by onnxruntime: each timing cell gets its "*"
    row.memory = {"peak_rss_mb": 13560.0}
    return row


def test_a_wide_table_keeps_its_right_border_in_a_pipe(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")   # what a pipe reads as
    report = SimpleNamespace(
        rows=[_row("model_int8_trt_calibrated_v2", "gate_failed", -12.34, 1113.16), _row("m", "passed", 0.0, 9.0)],
        data=SimpleNamespace(name="s", sequences=[1, 2], n_frames=20, ground_truth="dataset"),
        options=SimpleNamespace(device="cpu"), machine={}, wall_s=3.0)
    table = bench_table(report)
    console = table_console(table)
    console.file = out = io.StringIO()
    console.print(table)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()][1:]   # under the title
    assert len(lines) == 6 and len({cell_len(ln) for ln in lines}) == 1, [cell_len(ln) for ln in lines]   # ❎: 2
    assert all(ln[-1] in "┓┃┩│┘" for ln in lines), lines
    assert "model_int8_trt_calibrated_v2" in out.getvalue() and "1113.16*" in out.getvalue()


def test_a_title_wider_than_the_table_stays_on_one_line(monkeypatch):
    """One narrow row under a long title (dt bench --tracker kcf, a long data path): rich wrapped the title at the
    table's width, its end ('1 s') on a line of its own."""
    monkeypatch.setenv("COLUMNS", "80")
    row = BenchRow("kcf", "kcf", "opencv", "-", accuracy={"auc": 0.2341})
    name = "data/" + "a_long_folder_name/" * 12 + "synth_val_00001"
    report = SimpleNamespace(rows=[row], data=SimpleNamespace(name=name, sequences=[1], n_frames=12,
                                                              ground_truth="dataset"),
                             options=SimpleNamespace(device="cpu"), machine={}, wall_s=1.0)
    table = bench_table(report)
    console = table_console(table)
    console.file = out = io.StringIO()
    console.print(table)
    lines = out.getvalue().splitlines()
    assert lines[0].strip().startswith("dt bench: " + name) and lines[0].rstrip().endswith("; 1 s"), lines[:3]
    assert lines[1].startswith("┏") and len({cell_len(ln) for ln in lines[1:] if ln.strip()}) == 1, lines
