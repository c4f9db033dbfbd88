"""ONNX graphs built to exhaust the machine that loads them: a loop that never ends, a tensor of gigabytes from a
file of a few hundred bytes. Refused in one line before ONNX Runtime or TensorRT's parser gets the file. A graph
whose maps have other shapes than its metadata says is one line too, not a traceback from the box decoding.
(tests/test_untrusted_files.py: external data; tests/test_untrusted_metadata.py: metadata values.)"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import cli, one_line_error

INIT = "60,40,40,50"


def _inputs() -> list:
    """The graph inputs of an exported tracker (template and search crops of the tiny test config)."""
    return [helper.make_tensor_value_info("template", TensorProto.FLOAT, [1, 3, 64, 64]),
            helper.make_tensor_value_info("search", TensorProto.FLOAT, [1, 3, 128, 128])]


def hostile(onnx_model, path, nodes: list, inits: list, declared: bool = False) -> None:
    """A graph of `nodes` ending in 'y', given as each of a tracker's outputs, with the exported model's droptrack
    metadata: what the runtimes check before the first frame is all in order, only the body is hostile.
    `declared`: the outputs say they are the maps of the tiny test config (else their shapes are left open)."""
    maps = {"score_map": [1, 1, 8, 8], "size_map": [1, 2, 8, 8], "offset_map": [1, 2, 8, 8]}
    nodes = nodes + [helper.make_node("Identity", ["y"], [name]) for name in maps]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape if declared else None)
               for name, shape in maps.items()]
    graph = helper.make_graph(nodes, "g", _inputs(), outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for p in onnx.load(str(onnx_model), load_external_data=False).metadata_props:
        model.metadata_props.add(key=p.key, value=p.value)
    onnx.save(model, str(path))


def _never_ending_loop() -> tuple[list, list]:
    """Loop with a trip count of 2**62 whose body only passes its condition on."""
    body = helper.make_graph([helper.make_node("Identity", ["cond"], ["cond_out"]),
                              helper.make_node("Identity", ["v"], ["v_out"])], "body",
                             [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                              helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                              helper.make_tensor_value_info("v", TensorProto.FLOAT, None)],
                             [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                              helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)])
    inits = [numpy_helper.from_array(np.array(2**62, np.int64), "trips"),
             numpy_helper.from_array(np.array(True), "go")]
    return [helper.make_node("Loop", ["trips", "go", "search"], ["y"], name="spin", body=body)], inits


def _gigabytes() -> tuple[list, list]:
    """ConstantOfShape [40000, 40000]: 6.4 GB of float32 at the first frame, from a 16-byte initializer."""
    value = numpy_helper.from_array(np.array([1.0], np.float32))
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"], value=value),
             helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
             helper.make_node("Add", ["search", "total"], ["y"])]
    return nodes, [numpy_helper.from_array(np.array([40000, 40000], np.int64), "shape")]


def _integer_blowup() -> tuple[list, list]:
    """Shape(search) concatenated with itself 23 times (256 MiB of int64), then copied 5 times: each under 1 GiB,
    1.2 GiB together, all of it computed by ONNX Runtime while it loads the graph (its shape data propagation)."""
    nodes = [helper.make_node("Shape", ["search"], ["s0"])]
    nodes += [helper.make_node("Concat", [f"s{i}", f"s{i}"], [f"s{i + 1}"], axis=0) for i in range(23)]
    nodes += [helper.make_node("Concat", ["s23", "none"], [f"c{k}"], axis=0) for k in range(5)]
    nodes += [helper.make_node("Concat", [f"c{k}" for k in range(5)], ["all"], axis=0),
              helper.make_node("Cast", ["all"], ["y"], to=TensorProto.FLOAT)]
    return nodes, [numpy_helper.from_array(np.zeros(0, np.int64), "none")]


@pytest.mark.parametrize("build,named", [(_never_ending_loop, "Loop node 'spin'"), (_gigabytes, "'big' of 6 GiB"),
                                         (_integer_blowup, "integer tensors of 1.2 GiB")])
def test_a_graph_built_to_exhaust_the_machine_is_one_line(onnx_model, tmp_path, video, build, named):
    path = tmp_path / "model.onnx"
    hostile(onnx_model, path, *build())
    for argv in (["run", video, "-m", path, "--device", "cpu", "--init", INIT, "--output", tmp_path / "b.txt"],
                 ["export", path, "--engine"]):
        line = one_line_error(cli(*argv))
        assert named in line and "model.onnx" in line, line
    assert not (tmp_path / "b.txt").exists()


def test_exported_graphs_have_no_loop_or_giant_tensor(onnx_model):
    from droptrack.engine.onnx_files import graph_problem

    assert graph_problem(onnx.load(str(onnx_model), load_external_data=False)) == ""


def _other_maps(declared: bool) -> tuple[list, list, bool]:
    """Maps of the search crop's shape (1, 3, 128, 128) under the tracker's output names; `declared`: the graph
    says they are the (1, 1|2, 8, 8) maps of its metadata (and returns the others)."""
    return [helper.make_node("Relu", ["search"], ["y"])], [], declared


@pytest.mark.parametrize("declared", [False, True])
def test_a_graph_whose_maps_have_other_shapes_than_its_metadata_is_refused(onnx_model, tmp_path, video, declared):
    path = tmp_path / "model.onnx"
    hostile(onnx_model, path, *_other_maps(declared))
    r = cli("run", video, "-m", path, "--device", "cpu", "--init", INIT, "--output", tmp_path / "b.txt")
    if not declared:   # the shapes ONNX Runtime infers differ: refused before the first frame
        line = one_line_error(r)
        assert "output 'score_map'" in line and "[1, 3, 128, 128]" in line and "8, 8" in line, line
        assert not (tmp_path / "b.txt").exists()
    else:   # found when the maps come back: named at the first frame, not a traceback from the decoding
        last = r.output.strip().splitlines()[-1]
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
        assert last.startswith("error: output 'score_map'") and "(1, 3, 128, 128)" in last, last
