"""dt export --opset 19+ --int8 (TensorRT target): the Q/DQ graph is already at TensorRT's opset, and its FP16 base
conversion used to fail on the quantizer's stale value_info ('The downstream node of the second cast node should be
graph output', a traceback); it now writes a verified graph, as at opset 17."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("opset", [19])
def test_int8_trt_graph_at_opset_19(tiny, tmp_path, opset):
    from helpers import cli

    out = tmp_path / "deploy"
    r = cli("export", tiny[0], "--opset", opset, "--int8", "--int8-target", "trt", "--calib-pairs", 8, "-o", out)
    assert r.exit_code == 0, r.output
    graph = onnx.load(str(out / "model_int8_trt.onnx"))
    assert next(o.version for o in graph.opset_import if (o.domain or "") == "") == opset
    assert any(n.op_type == "QuantizeLinear" for n in graph.graph.node)


@pytest.mark.parametrize("opset", [21, 23])
def test_int8_trt_past_opset_20_refused_before_export(tmp_path, opset):
    from helpers import cli, one_line_error

    from droptrack.export.onnx import max_opset

    if max_opset() < opset:
        pytest.skip(f"this torch exports at most opset {max_opset()}")
    out = tmp_path / "deploy"
    line = one_line_error(cli("export", "--opset", opset, "--int8", "-o", out))
    assert f"works up to --opset 20, got {opset}" in line and not out.exists()
