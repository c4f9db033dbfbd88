"""Nodes TensorRT 10's ONNX parser refuses (onnx-tensorrt's operator matrix and importers, 10.0/10.1 GA), refused on
CPU before an engine build: droptrack's own graphs pass, small graphs that break one documented rule each do not."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T, helper, numpy_helper

from droptrack.errors import ExportError
from droptrack.export.tensorrt import check_tracker_graph, graph_facts
from helpers import cli, one_line_error

MAPS = {"score_map": [1, 1, 8, 8], "size_map": [1, 2, 8, 8], "offset_map": [1, 2, 8, 8]}


@pytest.mark.parametrize("name", ["model.onnx", "model_fp16.onnx", "model_int8_trt.onnx"])
def test_exported_tensorrt_graphs_pass_the_parser_check(exported, name):
    from droptrack.export.trt_ops import trt_problems

    path = exported[0] / name
    assert trt_problems(onnx.load(str(path))) == []
    check_tracker_graph(path, graph_facts(path))


def _ints(name: str, values, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(values, dtype), name)


def tracker(exported, path, nodes: list, inits: list, opset: int = 17) -> None:
    """A graph with the tracker's I/O and the exported model's metadata whose maps are a corner of the search crop
    (a body every TensorRT 10 parses), plus `nodes`: dead ends that only the parser check reads."""
    body = [helper.make_node("Slice", ["search", "st", "en", "ax"], ["y"]),
            helper.make_node("Identity", ["y"], ["score_map"]),
            helper.make_node("Concat", ["y", "y"], ["size_map"], axis=1),
            helper.make_node("Concat", ["y", "y"], ["offset_map"], axis=1)]
    inits = inits + [_ints("st", [0, 0, 0]), _ints("en", [1, 8, 8]), _ints("ax", [1, 2, 3])]
    graph = helper.make_graph(body + nodes, "g",
                              [helper.make_tensor_value_info("template", T.FLOAT, [1, 3, 64, 64]),
                               helper.make_tensor_value_info("search", T.FLOAT, [1, 3, 128, 128])],
                              [helper.make_tensor_value_info(n, T.FLOAT, s) for n, s in MAPS.items()], inits)
    domains = sorted({n.domain for n in nodes} - {""})
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)] +
                              [helper.make_opsetid(d, 1) for d in domains])
    for p in onnx.load(str(exported[0] / "model.onnx"), load_external_data=False).metadata_props:
        model.metadata_props.add(key=p.key, value=p.value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _scale(name="s", values=(0.1,), dtype=np.float32):
    return numpy_helper.from_array(np.asarray(values, dtype).reshape(-1 if len(values) > 1 else ()), name)


def _qdq(zero_dtype, zero=0):
    return ([helper.make_node("QuantizeLinear", ["search", "s", "z"], ["q"], name="bad"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"], name="bad_dq")],
            [_scale(), numpy_helper.from_array(np.asarray(zero, zero_dtype), "z")])


def _violations() -> dict:
    """name -> (nodes, initializers, opset, what the refusal must say); each breaks one documented rule."""
    flat = helper.make_node("Flatten", ["search"], ["flat"])
    return {
        # TopK's K computed from the pixels (not a constant, not a shape tensor)
        "topk_k_from_pixels": ([flat, helper.make_node("ReduceMax", ["search"], ["m"], keepdims=0),
                                helper.make_node("Cast", ["m"], ["mk"], to=T.INT64),
                                helper.make_node("Reshape", ["mk", "one"], ["k"]),
                                helper.make_node("TopK", ["flat", "k"], ["v", "i"], name="bad")],
                               [_ints("one", [1])], 17, "its K 'k' is computed from the pictures"),
        "topk_k_too_large": ([flat, helper.make_node("TopK", ["flat", "k"], ["v", "i"], name="bad")],
                             [_ints("k", [4000])], 17, "below 3840"),
        "topk_unsorted": ([flat, helper.make_node("TopK", ["flat", "k"], ["v", "i"], name="bad", sorted=0)],
                          [_ints("k", [5])], 17, "sorted must be 1"),
        # ORT quantizes biases to INT32: the parser dequantizes INT8/FP8/INT4 only
        "dq_of_int32": ([helper.make_node("DequantizeLinear", ["b", "s"], ["bf"], name="bad")],
                        [_ints("b", [1, 2, 3], np.int32), _scale()], 17, "is INT32"),
        "qdq_uint8": (*_qdq(np.uint8, 128), 17, "UINT8"),
        "qdq_asymmetric_int8": (*_qdq(np.int8, 3), 17, "zero point is not all zero"),
        "q_scale_not_positive": ([helper.make_node("QuantizeLinear", ["search", "s", "z"], ["q"], name="bad")],
                                 [_scale(values=(-0.5,)), numpy_helper.from_array(np.int8(0), "z")], 17,
                                 "scale has a value <= 0"),
        # per-channel weights without an axis: ONNX reads axis 1, TensorRT axis 0 (4 channels, 8 scales)
        "dq_per_channel_axis_missing": ([helper.make_node("DequantizeLinear", ["w", "s", "z"], ["wf"], name="bad")],
                                        [numpy_helper.from_array(np.ones((4, 8), np.int8), "w"),
                                         _scale(values=(0.1,) * 8), numpy_helper.from_array(np.zeros(8, np.int8), "z")],
                                        17, "do not match the 4 channels of axis 0"),
        "q_scale_computed": ([helper.make_node("ReduceMax", ["search"], ["m"], keepdims=0),
                              helper.make_node("QuantizeLinear", ["search", "m"], ["q"], name="bad")],
                             [], 17, "its input 'm' is computed in the graph"),
        "slice_axes_computed": ([helper.make_node("Shape", ["search"], ["shp"]),
                                 helper.make_node("Slice", ["shp", "st1", "en1"], ["ax1"]),
                                 helper.make_node("Slice", ["search", "st1", "en1", "ax1"], ["sl"], name="bad")],
                                [_ints("st1", [0]), _ints("en1", [1])], 17, "axes must be an initializer"),
        "unsupported_op": ([helper.make_node("DynamicQuantizeLinear", ["search"], ["u", "us", "uz"], name="bad")],
                           [], 17, "op DynamicQuantizeLinear is not among"),
        "foreign_domain": ([helper.make_node("FusedGemm", ["search", "search"], ["fg"], name="bad",
                                             domain="com.microsoft")], [], 17, "of domain 'com.microsoft'"),
        "cast_to_int8": ([helper.make_node("Cast", ["search"], ["c8"], name="bad", to=T.INT8)], [], 17,
                         "casts to INT8"),
        "softmax_of_int64": ([helper.make_node("Cast", ["search"], ["c64"], to=T.INT64),
                              helper.make_node("Softmax", ["c64"], ["sm"], name="bad")], [], 17, "is INT64"),
        "layernorm_mean_output": ([helper.make_node("LayerNormalization", ["search", "g", "bt"], ["ln", "mean"],
                                                    name="bad")],
                                  [_scale("g", (1.0,) * 128), _scale("bt", (0.0,) * 128)], 17, "Mean/InvStdDev"),
        "opset_beyond_documented": ([], [], 21, "opset 21 is outside the opsets 9 to 20"),
    }


VIOLATIONS = _violations()


def test_the_plain_tracker_body_passes(exported, tmp_path):
    """The graphs below differ from this one only by the nodes that break a rule."""
    path = tmp_path / "plain.onnx"
    tracker(exported, path, [], [])
    check_tracker_graph(path, graph_facts(path))


def test_forms_the_parser_takes_are_not_refused(exported, tmp_path):
    """A K computed from shapes only (a shape tensor), a Q/DQ pair without zero point (INT8 to TensorRT), axes and
    scales from Constant nodes, per-channel weights with their axis written: none is refused."""
    nodes = [helper.make_node("Shape", ["search"], ["shp"]),
             helper.make_node("Gather", ["shp", "last"], ["k"], axis=0),
             helper.make_node("Flatten", ["search"], ["flat"]),
             helper.make_node("TopK", ["flat", "k"], ["v", "i"]),
             helper.make_node("Constant", [], ["axes"], value=_ints("axes", [2, 3])),
             helper.make_node("ReduceMean", ["search", "axes"], ["mean"], keepdims=0),
             helper.make_node("Constant", [], ["cs"], value_float=0.05),
             helper.make_node("QuantizeLinear", ["search", "cs"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "cs"], ["dq"]),
             helper.make_node("DequantizeLinear", ["w", "s8", "z8"], ["wf"], axis=1)]
    inits = [_ints("last", [3]), numpy_helper.from_array(np.ones((4, 8), np.int8), "w"), _scale("s8", (0.1,) * 8),
             numpy_helper.from_array(np.zeros(8, np.int8), "z8")]
    path = tmp_path / "taken.onnx"
    tracker(exported, path, nodes, inits, opset=19)
    check_tracker_graph(path, graph_facts(path))


@pytest.mark.parametrize("case", list(VIOLATIONS))
def test_a_node_the_parser_refuses_is_named_before_the_build(exported, tmp_path, case):
    nodes, inits, opset, said = VIOLATIONS[case]
    path = tmp_path / f"{case}.onnx"
    tracker(exported, path, nodes, inits, opset)
    with pytest.raises(ExportError) as err:
        check_tracker_graph(path, graph_facts(path))
    line = str(err.value)
    assert "\n" not in line and said in line, line
    assert opset != 17 or "node 'bad" in line, line
    assert line.endswith("build engines from the graphs `dt export CHECKPOINT` writes for TensorRT (model.onnx, "
                         "model_fp16.onnx, model_int8_trt.onnx)")


def test_the_onnx_runtime_int8_graph_is_refused_for_an_engine_in_one_line(exported):
    """`dt export model_int8_ort.onnx --engine`: ONNX Runtime's INT8 graph (DynamicQuantizeLinear, MatMulInteger,
    com.microsoft ops) was handed to TensorRT, whose parser fails on it; now refused first, on any machine."""
    r = cli("export", exported[0] / "model_int8_ort.onnx", "--engine")
    assert r.exit_code == 2
    line = one_line_error(r)
    assert "model_int8_ort.onnx is not a graph TensorRT 10's ONNX parser takes" in line, line
    assert "DynamicQuantizeLinear" in line and "more)" in line, line


def test_engine_with_an_opset_beyond_the_parsers_is_refused_before_any_export(tiny, tmp_path):
    """`--opset 21 --engine`: every graph was exported and checked, then each engine build refused (or, with no
    TensorRT here, the machine was named instead); now one line before any work."""
    r = cli("export", tiny[0], "--opset", 21, "--engine", "-o", tmp_path / "out")
    assert r.exit_code == 2
    assert "TensorRT 10's ONNX parser documents opsets up to 20, got --opset 21" in one_line_error(r)
    assert not (tmp_path / "out").exists()
