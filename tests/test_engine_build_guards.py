"""What `dt export GRAPH.onnx --engine` checks before TensorRT's build of minutes (a stand-in `tensorrt` module,
tests/fake_tensorrt.py, on CPU): the build recipe in the engine cache key, graph I/O without an element type, and
output maps the engine loader would refuse."""

from __future__ import annotations

import json

import pytest

from fake_tensorrt import install
from helpers import cli, one_line_error

OUTPUTS = ("score_map", "size_map", "offset_map")


def tracker_graph(path, out_type: int = 1, in_type: int = 1, untyped: str = "", code: int = 0):
    """A graph with the tracker's I/O names and tiny_ce_test's crop sizes (template 64, search 128) and droptrack
    metadata, its maps cast from `search` to `out_type` (onnx.TensorProto codes); `untyped`: an input or output
    declared with element type `code` (0: none), as a hand-edited or damaged graph can be."""
    import onnx
    from onnx import helper

    from droptrack.config import load_config, meta_from_config
    from droptrack.export.onnx import set_metadata

    def io(name, elem, shape):
        return helper.make_tensor_value_info(name, code if name == untyped else elem, shape)

    graph = helper.make_graph([helper.make_node("Cast", ["search"], [n], to=out_type) for n in OUTPUTS], "g",
                              [io("template", in_type, [1, 3, 64, 64]), io("search", in_type, [1, 3, 128, 128])],
                              [io(n, out_type, [1, 3, 128, 128]) for n in OUTPUTS])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    set_metadata(model, meta_from_config(load_config("tiny_ce_test"), arch="droptrack"))
    onnx.save(model, str(path))
    return path


def test_an_engine_built_under_an_older_build_recipe_is_rebuilt_not_reused(monkeypatch, tmp_path):
    """The cache key held the graph, precision, machine and options but not droptrack's own builder settings (TF32
    off, the FP32 pins, the network flags): a change to them reused engines built the old way, beside the graph
    and from the cache folder. Now BUILD_RECIPE is part of the key and of the sidecar."""
    from droptrack.export import tensorrt as trt_mod

    fake = install(monkeypatch)
    graph, cache = tracker_graph(tmp_path / "model.onnx"), tmp_path / "cache"
    first = trt_mod.build_engine(graph, cache=cache)
    assert not first.reused and trt_mod.build_engine(graph, cache=cache).reused and len(fake.built) == 1
    assert json.loads(first.sidecar.read_text())["recipe"] == trt_mod.BUILD_RECIPE
    monkeypatch.setattr(trt_mod, "BUILD_RECIPE", trt_mod.BUILD_RECIPE + 1)   # the recipe changed since that build
    second = trt_mod.build_engine(graph, cache=cache)
    assert not second.reused and second.key != first.key and len(fake.built) == 2
    assert json.loads(second.sidecar.read_text())["recipe"] == trt_mod.BUILD_RECIPE
    assert sorted(p.name for p in cache.glob("*.engine")) == sorted([f"{first.key}.engine", f"{second.key}.engine"])
    second.path.unlink()   # the old recipe's plan is still in the cache folder: only the new one's is reused
    assert trt_mod.build_engine(graph, cache=cache).reused and len(fake.built) == 2


@pytest.mark.parametrize("untyped, kind, code, what", [
    ("search", "input", 0, "no element type"), ("size_map", "output", 0, "no element type"),
    ("template", "input", 99, "an element type onnx does not know (99)")])
def test_graph_io_without_an_element_type_is_one_line_naming_it(monkeypatch, tmp_path, untyped, kind, code, what):
    """onnx's tensor_dtype_to_np_dtype(0) was a KeyError traceback (exit 1) from `dt export GRAPH --engine`."""
    fake = install(monkeypatch, tmp_path / "cache")
    graph = tracker_graph(tmp_path / "model.onnx", untyped=untyped, code=code)
    line = one_line_error(cli("export", graph, "--engine"))
    assert line == (f"error: {kind} '{untyped}' of model.onnx declares {what} (a damaged or hand-edited "
                    "graph); export the tracker again with `dt export CHECKPOINT`, or give it its type "
                    "(onnx.helper.make_tensor_value_info(NAME, TensorProto.FLOAT, SHAPE))")
    assert fake.built == [] and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


@pytest.mark.parametrize("out_type, name", [(6, "int32"), (7, "int64"), (9, "bool")])
def test_output_maps_the_loader_refuses_are_refused_before_the_build(monkeypatch, tmp_path, out_type, name):
    """A graph with integer (or bool) maps was built, minutes on a real model, and every dt command then
    refused its engine ('output ... is int32, not float32, float16 or bfloat16'); now the export refuses it first."""
    fake = install(monkeypatch, tmp_path / "cache")
    graph = tracker_graph(tmp_path / "model.onnx", out_type=out_type)
    line = one_line_error(cli("export", graph, "--engine"))
    maps = "; ".join(f"output '{n}' is {name}, not float32, float16 or bfloat16" for n in OUTPUTS)
    assert line == (f"error: model.onnx is not a tracker graph that droptrack runs ({maps}); export the tracker "
                    "with `dt export CHECKPOINT`")
    assert fake.built == [] and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


@pytest.mark.parametrize("out_type", [1, 10, 16])   # float32, float16, bfloat16: maps the loader reads
def test_floating_point_output_maps_still_build(monkeypatch, tmp_path, out_type):
    from droptrack.export.tensorrt import build_engine

    fake = install(monkeypatch)
    res = build_engine(tracker_graph(tmp_path / "model.onnx", out_type=out_type), cache=tmp_path / "cache")
    assert not res.reused and len(fake.built) == 1 and res.path.read_bytes() == b"PLAN"
