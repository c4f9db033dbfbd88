"""An engine built before its sidecar recorded droptrack's TensorRT build recipe (BUILD_RECIPE), or with an older
recipe, loaded silently though its builder settings (precision pins, flags) may be the ones a later recipe fixed:
it is now refused where it is loaded (dt run / bench / eval) and reported by dt doctor, in one line with the command
that rebuilds it. TensorRT is tests/fake_tensorrt.py (no GPU here).

On a machine without TensorRT that command cannot run either: the refusal said only 'rebuild it: dt export ...
--engine', which is refused there. It now says the engine can be neither checked nor rebuilt on this machine and
names the ONNX graph beside it, which runs here (any command's ARTIFACT); dt doctor says the same."""

from __future__ import annotations

import json

import pytest

from droptrack.engine.tensorrt_backend import BUILD_RECIPE, TensorRTBackend, sidecar_path
from droptrack.errors import BackendError
from fake_tensorrt import FakeTRT, install
from helpers import cli

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tensorrt_here(monkeypatch, tmp_path) -> FakeTRT:
    return install(monkeypatch, tmp_path / "cache")


def _engine(onnx_model, tmp_path, recipe):
    """A fake build whose sidecar then reads as an older droptrack's: `recipe` (None: the field absent)."""
    from droptrack.export.tensorrt import build_engine

    graph = tmp_path / "model_fp16.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    engine = build_engine(graph, cache=tmp_path / "cache").path
    side = sidecar_path(engine)
    info = json.loads(side.read_text())
    assert info["recipe"] == BUILD_RECIPE == 1   # what this droptrack writes; the version the messages below name
    if recipe is None:
        del info["recipe"]
    else:
        info["recipe"] = recipe
    side.write_text(json.dumps(info))
    return engine


@pytest.mark.parametrize("recipe, recorded", [(None, "no recipe (built before droptrack recorded it)"),
                                              (0, "recipe 0")])
def test_an_engine_of_an_older_build_recipe_is_refused_with_its_rebuild(onnx_model, tmp_path, tensorrt_here,
                                                                         recipe, recorded):
    engine = _engine(onnx_model, tmp_path, recipe)
    with pytest.raises(BackendError) as exc:
        TensorRTBackend(engine)
    msg = str(exc.value)
    assert msg.startswith(f"engine 'model_fp16.engine' predates the current TensorRT build recipe (its sidecar "
                          f"records {recorded}, this droptrack builds with recipe 1), so it may carry older builder "
                          "settings; rebuild it: dt export ")
    assert msg.endswith("model_fp16.onnx --engine --workspace 4") and "\n" not in msg
    doctor = cli("doctor", engine)
    line = next(ln for ln in doctor.output.splitlines() if "predates" in ln)
    assert "every dt command refuses it: rebuild it: dt export" in line and "model_fp16.onnx --engine" in line


def test_an_engine_of_the_current_or_a_newer_recipe_is_not_called_old(onnx_model, tmp_path, tensorrt_here):
    from droptrack.engine.tensorrt_backend import recipe_problem

    engine = _engine(onnx_model, tmp_path, BUILD_RECIPE)
    assert recipe_problem(engine, {"recipe": 1}) is None and recipe_problem(engine, {"recipe": 2}) is None
    assert "predates" not in cli("doctor", engine).output


@pytest.fixture
def old_engine_without_tensorrt(onnx_model, tmp_path, monkeypatch):
    """An engine of recipe 0 (built with the stand-in TensorRT, which is then taken away again), on this machine
    where TensorRT is not installed."""
    from droptrack.engine import trt_compat

    if trt_compat.import_tensorrt() is not None:
        pytest.skip("TensorRT is installed here: the engine can be checked and rebuilt")
    with monkeypatch.context() as m:
        install(m, tmp_path / "cache")
        engine = _engine(onnx_model, tmp_path, 0)
    assert trt_compat.unavailable_reason().startswith("TensorRT is not installed here")
    return engine


def test_without_tensorrt_an_old_engine_names_the_graph_that_runs_here(old_engine_without_tensorrt, video,
                                                                       tmp_path):
    engine = old_engine_without_tensorrt
    graph = engine.with_suffix(".onnx")
    with pytest.raises(BackendError) as exc:
        TensorRTBackend(engine)
    msg = str(exc.value)
    assert msg.startswith("engine 'model_fp16.engine' predates the current TensorRT build recipe (its sidecar records "
                          "recipe 0, this droptrack builds with recipe 1), so it may carry older builder settings; it "
                          "can be neither checked nor rebuilt on this machine (TensorRT is not installed here"), msg
    assert f"rebuild it where TensorRT and a CUDA GPU are (dt export {graph} --engine --workspace 4)" in msg, msg
    assert msg.endswith(f"; here, give the ONNX graph beside it, model_fp16.onnx, which this machine runs, in its "
                        f"place: {graph}") and "\n" not in msg, msg
    r = cli("run", video, "--model", engine, "--init", "100,60,40,40", "--max-frames", 2)
    assert r.exit_code == 2 and "neither checked nor rebuilt" in r.output and f"place: {graph}" in r.output, r.output
    out = tmp_path / "boxes.txt"   # and the graph it names does run here
    r = cli("run", video, "--model", graph, "--init", "100,60,40,40", "--max-frames", 2, "--output", out)
    assert r.exit_code == 0 and len(out.read_text().splitlines()) == 2, r.output
    doctor = cli("doctor", engine)
    line = " ".join(next(ln for ln in doctor.output.split("error: ") if "predates" in ln).split())
    assert "neither checked nor rebuilt on this machine" in line and "every dt command refuses it" not in line, line
    assert line.endswith(f"here, give the ONNX graph beside it, model_fp16.onnx, which this machine runs, in its "
                         f"place: {graph}"), line


def test_without_tensorrt_the_graph_named_is_the_one_the_sidecar_names(old_engine_without_tensorrt):
    """An engine renamed with its sidecar still names the graph it was built from; with that graph gone, none."""
    engine = old_engine_without_tensorrt
    moved = engine.with_name("tracker.engine")
    engine.rename(moved)
    sidecar_path(engine).rename(sidecar_path(moved))
    with pytest.raises(BackendError, match=r"beside it, model_fp16\.onnx, which this machine runs, in its place: "
                                           r"\S+model_fp16\.onnx$"):
        TensorRTBackend(moved)
    engine.with_suffix(".onnx").unlink()
    with pytest.raises(BackendError, match=r"here, give the ONNX graph it was built from in its place "
                                           r"\(MODEL\.onnx\)$"):
        TensorRTBackend(moved)
