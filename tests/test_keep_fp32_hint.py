"""dt export --keep-fp32 with a misspelt group name: the one-line error suggests the nearest part of a node name."""

from __future__ import annotations

import pytest

from droptrack.errors import ExportError
from droptrack.export.precision import fp32_nodes

onnx = pytest.importorskip("onnx")


def _model():
    from onnx import TensorProto, helper

    names = ["/model/backbone/blocks.0/norm1/LayerNormalization", "/model/box_head/conv1_ctr/Relu"]
    nodes = [helper.make_node("Identity", ["x"], [f"y{i}"], name=n) for i, n in enumerate(names)]
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "g", [vi("x", TensorProto.FLOAT, [1])],
                              [vi(f"y{i}", TensorProto.FLOAT, [1]) for i in range(len(names))])
    return helper.make_model(graph)


@pytest.mark.parametrize("pattern, hint", [("box_haed", "'/box_head/'"), ("/box-head/", "'/box_head/'"),
                                           ("blocks\\.O/", "'/blocks\\.0/'")])
def test_misspelt_group_gets_a_suggestion(pattern, hint):
    with pytest.raises(ExportError, match="matches no node") as exc:
        fp32_nodes(_model(), [pattern])
    assert f"did you mean --keep-fp32 {hint}?" in str(exc.value)


def test_far_pattern_gets_no_guess():
    with pytest.raises(ExportError) as exc:
        fp32_nodes(_model(), ["qqqqqqq"])
    assert "did you mean" not in str(exc.value)


def test_matching_patterns_still_select_nodes():
    assert fp32_nodes(_model(), ["/box_head/"]) == ["/model/box_head/conv1_ctr/Relu"]
