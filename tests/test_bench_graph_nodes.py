"""What a graph's nodes say, checked when the graph is read. An INT8 graph whose metadata was relabelled "fp32"
(or "fp16") was benched under that precision's tighter gates and passed them; a graph with an op of a custom domain
(none that droptrack's runtimes implement) became a failed row after the whole reference run (exit 1). Both are now
refused before any work, one line, exit 2. A graph labelled int8 that holds no quantized node is not refused (an
INT8 export that keeps every group in high precision may have none)."""

from __future__ import annotations

import pytest

from droptrack.engine.onnx_files import check_graph
from droptrack.errors import BackendError, MetadataError
from helpers import cli, one_line_error

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def relabelled(src, dst, precision: str):
    """A copy of the graph `src` whose droptrack.precision metadata says `precision`."""
    model = onnx.load(str(src))
    for p in model.metadata_props:
        if p.key == "droptrack.precision":
            p.value = f'"{precision}"'
    onnx.save(model, str(dst))
    return dst


def with_custom_op(src, dst):
    """A copy of the graph `src` whose first output passes through an op of the domain 'my.ops'."""
    from onnx import helper

    model = onnx.load(str(src))
    out = model.graph.output[0].name
    node = next(n for n in model.graph.node if out in n.output)
    node.output[list(node.output).index(out)] = out + "_pre"
    model.graph.node.append(helper.make_node("MyIdentity", [out + "_pre"], [out], name="mine", domain="my.ops"))
    model.opset_import.append(helper.make_opsetid("my.ops", 1))
    onnx.save(model, str(dst))
    return dst


def bench(tiny_ckpt, graph, out):
    return cli("bench", tiny_ckpt, graph, "--sequences", 1, "--frames", 3, "--threads", 1, "-o", out)


@pytest.mark.parametrize("target,label", [("ort", "fp32"), ("trt", "fp32"), ("ort", "fp16")])
def test_an_int8_graph_labelled_as_float_is_refused_before_any_row(exported, tiny_ckpt, tmp_path, target, label):
    graph = relabelled(exported[0] / f"model_int8_{target}.onnx", tmp_path / "relabelled.onnx", label)
    line = one_line_error(bench(tiny_ckpt, graph, tmp_path / "out"))
    assert f"'{graph}' is labelled {label} in its metadata but its graph holds INT8 quantization nodes" in line, line
    assert "the label disagrees with the graph" in line and "dt export CHECKPOINT --int8" in line, line
    assert not (tmp_path / "out").exists()   # nothing benched, nothing written
    with pytest.raises(MetadataError):
        check_graph(graph, BackendError)      # every loader reads it so: dt run, dt eval, dt doctor


def test_the_labels_that_agree_with_the_graph_are_read(exported, onnx_model, tmp_path):
    """INT8 graphs as exported, and a graph labelled int8 without quantized nodes, are not refused."""
    for target in ("ort", "trt"):
        assert dict(check_graph(exported[0] / f"model_int8_{target}.onnx", BackendError).props)[
            "droptrack.precision"] == '"int8"'
    plain = relabelled(onnx_model, tmp_path / "plain_int8.onnx", "int8")
    assert dict(check_graph(plain, BackendError).props)["droptrack.precision"] == '"int8"'


def test_a_custom_domain_op_is_refused_before_any_row(onnx_model, tiny_ckpt, tmp_path):
    graph = with_custom_op(onnx_model, tmp_path / "custom.onnx")
    line = one_line_error(bench(tiny_ckpt, graph, tmp_path / "out"))
    assert line.startswith(f"error: model '{graph}' has a node 'mine' of op 'MyIdentity' from the custom domain "
                           "'my.ops'"), line
    assert "dt export CHECKPOINT" in line, line
    assert not (tmp_path / "out").exists()
    assert one_line_error(cli("doctor", graph)) == line   # as dt doctor refuses it
