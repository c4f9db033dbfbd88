"""An engine that must be rebuilt, met on a machine without TensorRT: a stale one (its graph changed since the build),
one cut short (a copy that did not finish) or a file that is no engine (no sidecar). dt run and dt doctor said only
'rebuild it: dt export GRAPH.onnx --engine', a command refused on this very machine. They now say, as for an engine
of an older build recipe, that it can be neither checked nor rebuilt here, why (what to install), where to rebuild
it, and the ONNX graph beside it that runs here. TensorRT is tests/fake_tensorrt.py for the build only."""

from __future__ import annotations

import onnx
import pytest

from droptrack.engine.tensorrt_backend import TensorRTBackend
from droptrack.errors import BackendError
from fake_tensorrt import install
from helpers import cli

pytestmark = pytest.mark.usefixtures("one_thread")

WHERE = "it can be neither checked nor rebuilt on this machine (TensorRT is not installed here (pip install tensorrt"


@pytest.fixture
def engine_without_tensorrt(onnx_model, tmp_path, monkeypatch):
    """An engine built with the stand-in TensorRT, which is then taken away again (this machine has none)."""
    from droptrack.engine import trt_compat
    from droptrack.export.tensorrt import build_engine

    if trt_compat.import_tensorrt() is not None:
        pytest.skip("TensorRT is installed here: the engine can be checked and rebuilt")
    graph = tmp_path / "model_fp16.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    with monkeypatch.context() as m:
        install(m, tmp_path / "cache")
        engine = build_engine(graph, cache=tmp_path / "cache").path
    return engine


def _says_where(text: str, graph) -> None:
    """The advice names why not here, where to rebuild, and the graph that runs here; not a bare rebuild command."""
    text = " ".join(text.split())
    assert WHERE in text, text
    assert f"rebuild it where TensorRT and a CUDA GPU are (dt export {graph} --engine" in text, text
    assert f"which this machine runs, in its place: {graph}" in text, text
    assert "rebuild it: dt export" not in text, text


def test_a_stale_engine_names_where_to_rebuild_it(engine_without_tensorrt):
    engine = engine_without_tensorrt
    graph = engine.with_suffix(".onnx")
    model = onnx.load(str(graph))
    model.doc_string = "a new export"   # the graph beside the engine changed since its build
    onnx.save(model, str(graph))
    with pytest.raises(BackendError) as exc:
        TensorRTBackend(engine)
    assert "is stale" in str(exc.value) and "\n" not in str(exc.value)
    _says_where(str(exc.value), graph)
    for artifact in (engine, graph):   # dt doctor on the engine, and on the graph beside it
        r = cli("doctor", artifact)
        assert r.exit_code == 1, r.output
        _says_where(next(part for part in r.output.split("error: ") if "is stale" in part), graph)


def test_an_engine_cut_short_names_where_to_rebuild_it(engine_without_tensorrt):
    engine = engine_without_tensorrt
    engine.write_bytes(b"PL")   # the fake build writes the 4-byte plan b"PLAN"
    with pytest.raises(BackendError) as exc:
        TensorRTBackend(engine)
    assert "cut short" in str(exc.value) and "copy it again; it can be neither" in str(exc.value)
    _says_where(str(exc.value), engine.with_suffix(".onnx"))
    r = cli("doctor", engine)
    assert r.exit_code == 1, r.output
    _says_where(r.output.split("error: ", 1)[1], engine.with_suffix(".onnx"))


def test_a_file_that_is_no_engine_names_where_to_rebuild_it(onnx_model, tmp_path):
    from droptrack.engine import trt_compat

    if trt_compat.import_tensorrt() is not None:
        pytest.skip("TensorRT is installed here: the engine can be rebuilt here")
    graph = tmp_path / "model.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    engine = tmp_path / "model.engine"
    engine.write_text("not an engine\n")
    r = cli("doctor", engine)
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert text == (f"error: engine '{engine}' has no sidecar model.engine.json (not built by `dt export --engine`); "
                    f"rebuild the engine with `dt export {graph} --engine` where TensorRT and a CUDA GPU are (TensorRT "
                    "is not installed here (pip install tensorrt-cu12 on x86, JetPack's python3-libnvinfer on "
                    "Jetson)); "
                    f"here, give {graph} in its place"), r.output
