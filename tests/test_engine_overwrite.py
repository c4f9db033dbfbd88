"""`dt export GRAPH.onnx --engine` beside an engine file of the same name that droptrack did not build from that
graph (trtexec's, with no droptrack sidecar): it was replaced without a word. Now refused unless --overwrite; its own
engine (rebuilt, or left by a killed build) is still replaced. TensorRT is tests/fake_tensorrt.py (no GPU here)."""

from __future__ import annotations

import json

import pytest

from droptrack.engine.tensorrt_backend import sidecar_path
from fake_tensorrt import FakeTRT, install
from helpers import cli, one_line_error

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tensorrt_here(monkeypatch, tmp_path) -> FakeTRT:
    return install(monkeypatch, tmp_path / "cache")


def test_an_engine_of_another_tool_is_kept_unless_overwrite(onnx_model, tmp_path, tensorrt_here):
    graph = tmp_path / "model.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    theirs = tmp_path / "model.engine"
    theirs.write_bytes(b"TRTEXEC-PLAN")
    line = one_line_error(cli("export", graph, "--engine"))
    assert "model.engine', which the engine build would replace, has no droptrack sidecar" in line, line
    assert "--overwrite" in line, line
    assert theirs.read_bytes() == b"TRTEXEC-PLAN" and tensorrt_here.built == []
    sidecar_path(theirs).write_text(json.dumps({"format": "droptrack-engine", "onnx": "other.onnx"}))
    line = one_line_error(cli("export", graph, "--engine"))
    assert "built by droptrack from another graph ('other.onnx')" in line, line
    r = cli("export", graph, "--engine", "--overwrite")
    assert r.exit_code == 0, r.output
    assert theirs.read_bytes() == b"PLAN" and json.loads(sidecar_path(theirs).read_text())["onnx"] == "model.onnx"


def test_droptracks_own_engine_of_the_graph_is_replaced_without_overwrite(onnx_model, tmp_path, tensorrt_here,
                                                                         monkeypatch):
    import droptrack.export.tensorrt as trt

    graph = tmp_path / "model.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    assert cli("export", graph, "--engine").exit_code == 0
    r = cli("export", graph, "--engine", "--workspace", 2)   # another build request: a rebuild, no --overwrite
    assert r.exit_code == 0, r.output
    assert len(tensorrt_here.built) == 2

    def killed(path, data):   # a kill between the plan and its sidecar
        raise KeyboardInterrupt

    write_json = trt.atomic_write_json
    monkeypatch.setattr(trt, "atomic_write_json", killed)
    assert cli("export", graph, "--engine", "--workspace", 3).exit_code == 130
    assert (tmp_path / "model.engine").read_bytes() == b"PLAN" and len(tensorrt_here.built) == 3
    monkeypatch.setattr(trt, "atomic_write_json", write_json)
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache2"))   # not reused from the cache: built again
    r = cli("export", graph, "--engine", "--workspace", 3)   # the rerun of the killed build
    assert r.exit_code == 0, r.output
    assert len(tensorrt_here.built) == 4 and json.loads(sidecar_path(graph.with_suffix(".engine")).read_text())[
        "workspace_bytes"] == 3 << 30


def test_overwrite_without_engine_is_refused(tiny, tmp_path):
    line = one_line_error(cli("export", tiny[0], "--overwrite", "-o", tmp_path / "out"))
    assert "--overwrite applies to --engine" in line, line
    assert not (tmp_path / "out").exists()


def test_a_checkpoint_export_keeps_an_engine_of_another_tool_unless_overwrite(tiny, tmp_path, tensorrt_here,
                                                                              monkeypatch):
    """`dt export CKPT -o DIR --engine` replaced DIR/model.engine (trtexec's, no sidecar) without a word. Now refused
    before any work, naming the file; an engine name this export does not build is no concern of it."""
    from droptrack.engine import tensorrt_backend
    from fake_tensorrt import GraphAsEngine

    monkeypatch.setattr(tensorrt_backend, "TensorRTBackend", GraphAsEngine)
    out = tmp_path / "out"
    out.mkdir()
    theirs = out / "model.engine"
    theirs.write_bytes(b"TRTEXEC-PLAN")
    line = one_line_error(cli("export", tiny[0], "--engine", "-o", out))
    assert "holds 'model.engine', which this export's engine build would replace, and it has no droptrack " \
           "sidecar" in line and "--overwrite" in line, line
    assert sorted(p.name for p in out.iterdir()) == ["model.engine"] and theirs.read_bytes() == b"TRTEXEC-PLAN"
    (out / "model_fp16.engine").write_bytes(b"TRTEXEC-PLAN")
    sidecar_path(out / "model_fp16.engine").write_text(json.dumps({"format": "droptrack-engine", "onnx": "x.onnx"}))
    line = one_line_error(cli("export", tiny[0], "--fp16", "--engine", "-o", out))   # builds model_fp16.engine only
    assert "holds 'model_fp16.engine', which this export's engine build would replace, and it was built by " \
           "droptrack from another graph ('x.onnx')" in line, line
    assert tensorrt_here.built == [] and not (out / "model.onnx").exists()
    r = cli("export", tiny[0], "--engine", "-o", out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert theirs.read_bytes() == b"PLAN" and json.loads(sidecar_path(theirs).read_text())["onnx"] == "model.onnx"
    r = cli("export", tiny[0], "--engine", "-o", out)   # its own engine now: reused, no --overwrite needed
    assert r.exit_code == 0, r.output
    assert len(tensorrt_here.built) == 1 and theirs.read_bytes() == b"PLAN"
