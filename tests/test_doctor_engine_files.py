"""`dt doctor` on an engine, or on the graph it was built from: an engine whose graph beside it changed since its build
(every dt command refuses it) and a `NAME.engine.unchecked` left by an interrupted export check were not reported; the
engine read as 'matches this machine', exit 0. TensorRT is tests/fake_tensorrt.py (no GPU here)."""

from __future__ import annotations

import onnx
import pytest

from fake_tensorrt import FakeTRT, install
from helpers import cli

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tensorrt_here(monkeypatch, tmp_path) -> FakeTRT:
    return install(monkeypatch, tmp_path / "cache")


def test_doctor_reports_a_stale_engine_and_an_unchecked_one(onnx_model, tmp_path, tensorrt_here):
    from droptrack.export.tensorrt import build_engine

    graph = tmp_path / "model_fp16.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    engine = build_engine(graph, cache=tmp_path / "cache").path
    r = cli("doctor", engine)
    assert r.exit_code == 0, r.output   # as built: nothing to say
    assert "stale" not in r.output and "unchecked" not in r.output, r.output

    model = onnx.load(str(graph))
    model.doc_string = "a new export"   # the graph beside the engine changed since the build
    onnx.save(model, str(graph))
    (tmp_path / "model_fp16.engine.unchecked").write_bytes(b"PLAN")
    for artifact in (engine, graph):
        r = cli("doctor", artifact)
        text = " ".join(r.output.split())
        assert r.exit_code == 1, r.output
        assert "error: model_fp16.engine is stale: 'model_fp16.onnx' beside it changed since the engine was built " \
               "from it; every dt command refuses it: rebuild it: dt export" in text, r.output
        assert "warn: model_fp16.engine.unchecked beside it: an engine whose parity check was interrupted" in text, \
            r.output
    assert "ok: model_fp16.onnx: fp32" in " ".join(r.output.split())   # the graph itself still runs


def test_doctor_reports_an_engine_cut_short(onnx_model, tmp_path, tensorrt_here):
    """An engine whose size is not the one its build wrote (a copy that did not finish) is refused by every dt command
    before TensorRT sees it; dt doctor read it as 'matches this machine', exit 0."""
    from droptrack.export.tensorrt import build_engine

    graph = tmp_path / "model_fp16.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    engine = build_engine(graph, cache=tmp_path / "cache").path
    engine.write_bytes(b"PLA")   # the fake build writes the 4-byte plan b"PLAN"
    r = cli("doctor", engine)
    text = " ".join(r.output.split())
    assert r.exit_code == 1, r.output
    assert "error: engine 'model_fp16.engine' is 3 bytes, but its build wrote 4 (its sidecar says)" in text, r.output
    assert "matches this machine" not in text, r.output
