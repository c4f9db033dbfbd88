"""`dt export --int8 --calib-method`: each method sets other activation ranges of the TensorRT INT8 graph.

ONNX Runtime's entropy calibrator, with its default bin counts (128 histogram bins, 128 quantized bins), tries one
window only, the whole range: `--calib-method entropy` wrote the very scales of minmax (every one of the tiny
model's, and of the embedded model's 20 activation quantizers) while the export's note read 'calibration entropy'.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from droptrack.export.quantize import Int8Recipe, _quantize
from helpers import cli

pytestmark = pytest.mark.usefixtures("one_thread")

OUTLIER = 50.0   # one value per calibration pair, the rest N(0, 1)


def _activation_scales(path: Path) -> dict[str, float]:
    """{quantized tensor: scale} of the graph's per-tensor (activation) QuantizeLinear nodes."""
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return {n.input[0]: float(inits[n.input[1]]) for n in model.graph.node
            if n.op_type == "QuantizeLinear" and n.input[1] in inits and inits[n.input[1]].size == 1}


def _two_matmuls(path: Path) -> None:
    """template (4, 16) and search (64, 16) inputs, each through a MatMul with a weight (the tracker's input names)."""
    rng = np.random.default_rng(1)
    weights = [numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), n) for n in ("W", "W2")]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["search", "W"], ["out"], name="mm"),
         helper.make_node("MatMul", ["template", "W2"], ["out2"], name="mm2")], "g",
        [helper.make_tensor_value_info("template", TensorProto.FLOAT, [4, 16]),
         helper.make_tensor_value_info("search", TensorProto.FLOAT, [64, 16])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [64, 8]),
         helper.make_tensor_value_info("out2", TensorProto.FLOAT, [4, 8])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_entropy_clips_an_outlier_that_minmax_keeps(tmp_path):
    """Search values N(0, 1) with one 50 per pair: minmax's symmetric INT8 scale is 50 / 127; entropy (KL, as
    TensorRT's calibrator) clips the outlier to a threshold within the bulk of the values (a few sigma)."""
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(8):
        search = rng.standard_normal((64, 16)).astype(np.float32)
        search[0, 0] = OUTLIER
        pairs.append(SimpleNamespace(template=rng.standard_normal((4, 16)).astype(np.float32), search=search))
    src = tmp_path / "two.onnx"
    _two_matmuls(src)
    scales = {}
    for method in ("minmax", "entropy"):
        _quantize(src, tmp_path / f"{method}.onnx", pairs, Int8Recipe("trt", method), [])
        scales[method] = _activation_scales(tmp_path / f"{method}.onnx")
    assert scales["minmax"]["search"] == pytest.approx(OUTLIER / 127, rel=1e-6)
    # a threshold between 3 and 12 sigma (old: 50, minmax's)
    assert 3 / 127 < scales["entropy"]["search"] < 12 / 127, scales
    # no outlier in the template: its threshold stays near its largest value (within a quarter of it)
    largest = max(float(np.abs(p.template).max()) for p in pairs)
    assert 0.75 * largest / 127 <= scales["entropy"]["template"] <= largest / 127 * (1 + 1e-6), scales


def test_entropy_export_is_not_the_minmax_graph(exported, tiny, tmp_path):
    """`dt export --int8 --int8-target trt --calib-method entropy` on the same calibration pairs as the session's
    minmax export: some activation scale differs, none is larger (entropy only clips)."""
    out = tmp_path / "entropy"
    r = cli("export", tiny[0], "--int8", "--int8-target", "trt", "--calib-pairs", 16, "--calib-method", "entropy",
            "-o", out)
    assert r.exit_code == 0, r.output
    assert "calibration entropy" in r.output
    ent, mm = _activation_scales(out / "model_int8_trt.onnx"), _activation_scales(exported[0] / "model_int8_trt.onnx")
    assert ent.keys() == mm.keys() and ent
    assert any(ent[k] < mm[k] * (1 - 1e-3) for k in ent), (ent, mm)
    assert all(ent[k] <= mm[k] * (1 + 1e-3) for k in ent), (ent, mm)   # FP16 scales: rounding only
