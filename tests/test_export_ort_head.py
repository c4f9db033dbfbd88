"""ORT CPU INT8 graph: the box head's large 3x3 convs as one U8 im2col integer GEMM (droptrack/export/ort_head.py).

References: a direct integer convolution written here in NumPy loops (ONNX's DynamicQuantizeLinear rule, zero padding
in the float domain = the zero point in U8, symmetric per-channel S8 weights), and the FP32 convs themselves.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from droptrack.export.ort_head import MIN_MACS, head_conv_groups, quantize_head_convs

pytestmark = pytest.mark.usefixtures("one_thread")
BRANCHES = ("ctr", "offset", "size")


def _head(c: int, hw: tuple[int, int], outs: tuple[int, ...], seed: int = 0):
    """x [1, C, H, W] -> three 3x3 'same' convs named as the CENTER head's first convs (with bias) -> Relu each."""
    rng = np.random.default_rng(seed)
    nodes, inits, outputs, ws = [], [], [], []
    for name, n in zip(BRANCHES, outs):
        p = f"/model/box_head/conv1_{name}/conv1_{name}"
        w = (rng.standard_normal((n, c, 3, 3)) * 0.1).astype(np.float32)
        b = (rng.standard_normal(n) * 0.1).astype(np.float32)
        inits += [numpy_helper.from_array(w, p + ".w"), numpy_helper.from_array(b, p + ".b")]
        nodes += [helper.make_node("Conv", ["x", p + ".w", p + ".b"], [p + ".0/out"], name=p + ".0/Conv",
                                   kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [p + ".0/out"], [name], name=p + ".2/Relu")]
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, n, *hw]))
        ws.append((w, b))
    graph = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, *hw])],
                              outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), ws


def _run(model, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})


def _reference(x: np.ndarray, ws, qmax: int) -> list[np.ndarray]:
    """U8 activations by ONNX's DynamicQuantizeLinear, S8 symmetric weights per output channel (in +-qmax), a direct
    integer convolution over the zero-padded map, then scales, bias and Relu."""
    lo, hi = min(0.0, float(x.min())), max(0.0, float(x.max()))
    scale = np.float32((hi - lo) / 255)
    zero = int(np.clip(np.round(-lo / scale), 0, 255))
    xq = np.clip(np.round(x[0] / scale) + zero, 0, 255).astype(np.int64)        # [C, H, W]
    c, h, w = xq.shape
    pad = np.full((c, h + 2, w + 2), zero, np.int64)
    pad[:, 1:-1, 1:-1] = xq
    out = []
    for wf, b in ws:
        s = np.abs(wf).reshape(len(wf), -1).max(axis=1) / qmax
        wq = np.clip(np.round(wf / s[:, None, None, None]), -qmax, qmax).astype(np.int64)
        acc = np.zeros((len(wf), h, w), np.int64)
        for ky in range(3):
            for kx in range(3):
                acc += np.einsum("nc,chw->nhw", wq[:, :, ky, kx], pad[:, ky:ky + h, kx:kx + w] - zero)
        out.append(np.maximum(acc * (scale * s)[:, None, None] + b[:, None, None], 0)[None].astype(np.float32))
    return out


@pytest.mark.parametrize("reduce_range", [True, False], ids=["7-bit-weights", "8-bit-weights"])
def test_the_rewritten_head_is_the_integer_convolution_of_its_quantized_input(reduce_range):
    """With 7-bit weights the integer GEMM is exact on every x86 CPU, so it must equal the reference to float
    rounding. With 8-bit weights (ORT_SETTINGS' choice) MLAS's U8S8 kernels on AVX2 without VNNI can saturate a
    pair of products (VPMADDUBSW: 2 x 255 x 127 > 32767), as they can in every other quantized GEMM of the graph:
    there only closeness to the FP32 convs is asserted."""
    model, ws = _head(16, (6, 5), (8, 4, 4))
    groups = head_conv_groups(model, min_macs=0)
    assert list(groups) == ["x"] and len(groups["x"]) == 3
    x = np.random.default_rng(1).standard_normal((1, 16, 6, 5)).astype(np.float32) * 2 + 0.5
    fp32 = _run(model, x)
    assert quantize_head_convs(model, groups, reduce_range=reduce_range) == 3
    ops = [n.op_type for n in model.graph.node]
    assert "Conv" not in ops and ops.count("MatMulInteger") == 1 and ops.count("DynamicQuantizeLinear") == 1
    assert not [i for i in model.graph.initializer if i.name.endswith((".w", ".b"))]   # the FP32 weights are gone
    got = _run(model, x)
    for g, r, f in zip(got, _reference(x, ws, 63 if reduce_range else 127), fp32):
        assert g.shape == r.shape == f.shape
        if reduce_range:
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * float(np.abs(r).max()))
        cos = float(g.ravel() @ f.ravel() / (np.linalg.norm(g) * np.linalg.norm(f)))
        assert cos > 0.99 and not np.array_equal(g, f)   # INT8: close to the FP32 convs, not equal


def test_only_large_heads_and_only_unkept_convs_are_rewritten():
    """The default threshold passes ViT-B-like sizes only; a conv named in `skip` (a kept head group) keeps its group
    in FP32."""
    small, _ = _head(128, (10, 10), (64, 64, 64))    # the embedded default model's head: 2.2e7 multiply-adds
    assert head_conv_groups(small) == {}
    large, _ = _head(256, (24, 24), (128, 128, 128))   # 5.1e8: over the threshold
    assert 24 * 24 * 9 * 256 * 384 >= MIN_MACS and list(head_conv_groups(large)) == ["x"]
    groups = head_conv_groups(large)
    before = large.SerializeToString()
    assert quantize_head_convs(large, groups, skip={groups["x"][1]}) == 0 and large.SerializeToString() == before


def test_ort_layer_groups_list_the_head_only_where_it_is_rewritten():
    from droptrack.export.quantize import layer_groups

    large, _ = _head(256, (24, 24), (128, 128, 128))
    assert layer_groups(large, "ort")["head"] == head_conv_groups(large)["x"]
    assert "head" not in layer_groups(_head(128, (10, 10), (64, 64, 64))[0], "ort")


def test_the_exported_tiny_model_keeps_its_head_in_fp32_and_its_real_head_rewrites(exported):
    """`dt export --int8` of a small model (as the embedded default) writes no head GEMM; the same model's real head
    (conv + folded BN + ReLU branches), rewritten with the threshold lifted, still tracks its FP32 graph closely."""
    from droptrack.export.onnx import read_metadata
    from droptrack.export.pairs import real_pairs
    from droptrack.export.quantize import preprocess

    int8 = onnx.load(str(exported[0] / "model_int8_ort.onnx"))
    assert not [n for n in int8.graph.node if "int8_im2col" in n.name]
    assert "int8_head_convs" not in read_metadata(exported[0] / "model_int8_ort.onnx").extra
    pre = preprocess(exported[0] / "model.onnx", exported[0].parent / "head_pre.onnx")
    every = head_conv_groups(onnx.load(str(pre)), min_macs=0)   # every 3x3 conv of the head, by input
    groups = {x: names for x, names in every.items() if len(names) == 3}
    assert len(groups) == 1 and len(every) == 10   # the first convs share the features; 3 x 3 later convs do not
    assert quantize_head_convs(int8, groups) == 3

    import onnxruntime as ort

    meta = read_metadata(exported[0] / "model.onnx")
    feeds = [{"template": p.template, "search": p.search} for p in real_pairs(meta, 2)]
    fp32 = ort.InferenceSession(str(exported[0] / "model.onnx"), providers=["CPUExecutionProvider"])
    plain = ort.InferenceSession(str(exported[0] / "model_int8_ort.onnx"), providers=["CPUExecutionProvider"])
    head = ort.InferenceSession(int8.SerializeToString(), providers=["CPUExecutionProvider"])
    for feed in feeds:
        ref, a, b = fp32.run(None, feed), plain.run(None, feed), head.run(None, feed)
        score = [float(o[0].ravel() @ ref[0].ravel() / (np.linalg.norm(o[0]) * np.linalg.norm(ref[0]))) for o in (a, b)]
        assert score[1] > 0.99 and score[1] > score[0] - 0.01   # the head's INT8 costs little against the rest
        assert not np.array_equal(a[0], b[0])
