"""ONNX graphs built to exhaust the machine that loads them: a loop that never ends, a tensor of gigabytes from a
file of a few hundred bytes. Refused in one line before ONNX Runtime or TensorRT's parser gets the file.
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


def hostile(onnx_model, path, nodes: list, inits: list) -> None:
    """A graph of `nodes` ending in 'y', given as each of a tracker's outputs, with the exported model's droptrack
    metadata: what the runtimes check before the first frame is all in order, only the body is hostile."""
    names = ("score_map", "size_map", "offset_map")
    nodes = nodes + [helper.make_node("Identity", ["y"], [name]) for name in names]
    graph = helper.make_graph(nodes, "g", _inputs(),
                              [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in names], inits)
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


@pytest.mark.parametrize("build,named", [(_never_ending_loop, "Loop node 'spin'"), (_gigabytes, "'big' of 6 GiB")])
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
