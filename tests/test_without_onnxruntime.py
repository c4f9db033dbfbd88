"""Without ONNX Runtime (a wheel installed without the [cpu] extra, or a Jetson without it), the commands that need it
say so in one line, exit 2, before any work: dt export ended in a ModuleNotFoundError traceback, dt demo did so after
its synthetic set, and dt bench ran the whole PyTorch reference before failing the row."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from droptrack.cli import app


@pytest.fixture
def no_onnxruntime(monkeypatch):
    # a None entry makes `import onnxruntime` raise ImportError, as on a machine without the package
    monkeypatch.setitem(sys.modules, "onnxruntime", None)


def _invoke(args: list[str]):
    return CliRunner().invoke(app, args)


def _one_line_exit_2(res, *words: str) -> None:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    for w in ("onnxruntime is not installed", "pip install 'droptrack[cpu]'", *words):
        assert w in lines[0], res.output


def test_dt_export_names_onnx_runtime_before_any_work(no_onnxruntime, tmp_path: Path):
    out = tmp_path / "exp"
    res = _invoke(["export", "-o", str(out)])
    _one_line_exit_2(res, "dt export checks every graph")
    assert not out.exists()   # nothing written, not even the folder


def test_dt_demo_names_onnx_runtime_before_any_work(no_onnxruntime, tmp_path: Path):
    out = tmp_path / "demo"
    res = _invoke(["demo", "-o", str(out), "--sequences", "1", "--frames", "3", "--video-frames", "2"])
    _one_line_exit_2(res, "dt demo")
    assert not out.exists()


def test_dt_bench_of_an_onnx_graph_names_onnx_runtime_before_the_reference_run(no_onnxruntime, tmp_path: Path):
    graph = tmp_path / "model.onnx"
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["x"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(g), str(graph))
    out = tmp_path / "bench"
    res = _invoke(["bench", str(graph), "--data", "synthetic", "--sequences", "1", "--frames", "3", "-o", str(out)])
    _one_line_exit_2(res, f"artifact '{graph}' runs in ONNX Runtime")
    assert not out.exists()


def test_the_torch_paths_still_run_without_it(no_onnxruntime, tmp_path: Path):
    # a checkpoint benched on its own needs no ONNX Runtime: the check is for .onnx artifacts only
    from droptrack.model.default import default_checkpoint

    out = tmp_path / "bench"
    res = _invoke(["bench", str(default_checkpoint()), "--data", "synthetic", "--root", str(tmp_path / "syn"),
                   "--sequences", "1", "--frames", "3", "--threads", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "bench.json").is_file()
