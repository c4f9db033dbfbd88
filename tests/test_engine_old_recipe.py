"""An engine built before its sidecar recorded droptrack's TensorRT build recipe (BUILD_RECIPE), or with an older
recipe, loaded silently though its builder settings (precision pins, flags) may be the ones a later recipe fixed:
it is now refused where it is loaded (dt run / bench / eval) and reported by dt doctor, in one line with the command
that rebuilds it. TensorRT is tests/fake_tensorrt.py (no GPU here)."""

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
