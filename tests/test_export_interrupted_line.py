"""The line of an interrupted `dt export` named `NAME.engine.unchecked` on every path, also `dt export GRAPH.onnx
--engine`, which builds under the final name with no parity check (no .unchecked file ever), and an export without
--engine. TensorRT is tests/fake_tensorrt.py (no GPU here)."""

from __future__ import annotations

import sys

import pytest

from droptrack.engine import trt_compat
from fake_tensorrt import FakeTRT
from helpers import cli

pytestmark = pytest.mark.usefixtures("one_thread")
ENV = {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"}


def _last(r) -> str:
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 130 and "Traceback" not in r.output, r.output
    return lines[-1]


@pytest.mark.usefixtures("python_sigint")   # Python's own SIGINT handler, main thread: conftest.py
def test_ctrl_c_in_the_build_from_a_graph_names_no_unchecked_file(onnx_model, tmp_path, monkeypatch):
    fake = FakeTRT(sigint_in="step_complete")
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module())
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(ENV))
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache"))
    graph = tmp_path / "model.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    line = _last(cli("export", graph, "--engine"))
    assert line.startswith("interrupted: the engine build did not finish") and ".unchecked" not in line, line
    assert "run the same command to build it" in line
    assert not list(tmp_path.glob("*.unchecked*"))


@pytest.mark.parametrize("engine", [False, True])
def test_ctrl_c_in_a_checkpoint_export_names_unchecked_only_with_engine(tiny, tmp_path, monkeypatch, engine):
    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    from droptrack.export import pipeline, tensorrt

    monkeypatch.setattr(pipeline, "load_source", ctrl_c)   # Ctrl-C as the checkpoint loads
    monkeypatch.setattr(tensorrt, "check_engine_machine", lambda graph: None)   # --engine: as if TensorRT were here
    args = ("export", tiny[0], "-o", tmp_path / "out", *(["--engine"] if engine else []))
    line = _last(cli(*args))   # the folder it made is removed again: it said 'the files written so far are complete'
    assert line == "interrupted before any file was written: nothing saved; run the same command to start", line
    (tmp_path / "out").mkdir()   # a folder an earlier step wrote into
    line = _last(cli(*args))
    assert line.startswith("interrupted: the files written so far are complete"), line
    assert ("NAME.engine.unchecked" in line) == engine and "auto-precision" not in line, line
    if not engine:   # nothing resumes: it said 'run the same command to resume', and the rerun exported it all again
        assert line.endswith("run the same command to export again (it starts over: the graphs are made again)")


def _graph_of(src, dst, sha: str | None = None) -> None:
    """`src`'s graph written to `dst`, its metadata naming checkpoint `sha` (as another checkpoint's export would)."""
    import json

    import onnx

    model = onnx.load(str(src), load_external_data=False)
    if sha is not None:
        (prop,) = [p for p in model.metadata_props if p.key == "droptrack.checkpoint_sha256"]
        prop.value = json.dumps(sha)   # metadata values are JSON
    onnx.save(model, str(dst))


@pytest.mark.parametrize("other", [False, True])
def test_ctrl_c_names_artifacts_of_two_checkpoints_left_side_by_side(tiny, onnx_model, tmp_path, monkeypatch, other):
    # the new model.onnx written, the earlier export's model_fp16.onnx not yet: only a finished export named it
    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    from droptrack.export import pipeline

    out = tmp_path / "out"
    out.mkdir()
    _graph_of(onnx_model, out / "model.onnx")
    _graph_of(onnx_model, out / "model_fp16.onnx", "cd" * 32 if other else None)
    monkeypatch.setattr(pipeline, "load_source", ctrl_c)
    line = _last(cli("export", tiny[0], "-o", out))
    assert line.startswith("interrupted: the files written so far are complete"), line
    if not other:
        assert "checkpoints" not in line, line
        return
    assert f"{out} now holds artifacts of 2 checkpoints (" in line, line
    assert "checkpoint cdcdcdcdcdcd: model_fp16.onnx" in line and ": model.onnx" in line, line
    assert line.endswith("do not bench or deploy it before the rerun has finished"), line
