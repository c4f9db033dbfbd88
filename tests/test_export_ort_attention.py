"""ORT CPU graphs: plain attention blocks fused into one Attention (FP32) / QAttention (INT8) node, CE blocks kept.

The tiny test model has 4 blocks with candidate elimination in blocks 1 and 2, so exactly blocks 0 and 3 fuse.
References: the unfused FP32 graph (itself checked against PyTorch by `dt export`) and the node counts that follow
from the config.
"""

from __future__ import annotations

import onnx
import numpy as np
import pytest

from droptrack.export.onnx import read_metadata
from droptrack.export.ort_attention import fuse_attention
from droptrack.export.pairs import real_pairs

pytestmark = pytest.mark.usefixtures("one_thread")


def _run(model, pairs) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return [np.concatenate(o) for o in zip(*(s.run(None, {"template": p.template, "search": p.search})
                                             for p in pairs))]


def _blocks(model, op_type: str) -> list[int]:
    import re

    return sorted({int(re.search(r"blocks\.(\d+)/", n.name).group(1)) for n in model.graph.node
                   if n.op_type == op_type and re.search(r"blocks\.(\d+)/", n.name)})


@pytest.mark.parametrize("preprocessed", [False, True], ids=["as-exported", "after-ort-preprocessing"])
def test_plain_blocks_fuse_and_compute_the_same_function(exported, tmp_path, preprocessed):
    """Both graph layouts (as exported, and after ORT's pre-processing moved the transposes) fuse blocks 0 and 3
    only, and the fused graph's outputs equal the unfused graph's on real photo pairs."""
    from droptrack.export.quantize import preprocess

    src = exported[0] / "model.onnx"
    if preprocessed:
        src = preprocess(src, tmp_path / "pre.onnx")
    plain = onnx.load(str(src))
    fused = onnx.load(str(src))
    assert fuse_attention(fused) == 2
    assert _blocks(fused, "Attention") == [0, 3]
    # the CE blocks keep their attention and the FP32 ranking branch (2 Softmax each); fused blocks have none left
    assert _blocks(fused, "Softmax") == [1, 2] and _blocks(plain, "Softmax") == [0, 1, 2, 3]
    assert sum(n.op_type == "Softmax" for n in fused.graph.node) == 4
    onnx.checker.check_model(fused)
    pairs = real_pairs(read_metadata(exported[0] / "model.onnx"), 3)
    for a, b in zip(_run(plain, pairs), _run(fused, pairs)):
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= 1e-5 * max(1.0, float(np.abs(a).max())), np.abs(a - b).max()


def test_fusing_twice_changes_nothing(exported):
    model = onnx.load(str(exported[0] / "model.onnx"))
    assert fuse_attention(model) == 2
    before = model.SerializeToString()
    assert fuse_attention(model) == 0 and model.SerializeToString() == before


def test_ort_int8_graph_runs_plain_blocks_as_qattention(exported):
    """`dt export --int8`'s ORT graph: blocks 0 and 3 are QAttention (U8 input, S8 weights); the CE blocks' qkv stay
    MatMulInteger beside their FP32 ranking branch; the metadata says how many blocks were fused."""
    model = onnx.load(str(exported[0] / "model_int8_ort.onnx"))
    q = [n for n in model.graph.node if n.op_type == "QAttention"]
    assert _blocks(model, "QAttention") == [0, 3] and len(q) == 2
    inits = {i.name: i for i in model.graph.initializer}
    assert all(inits[n.input[1]].data_type == onnx.TensorProto.INT8 for n in q)
    qkv_int = [n.name for n in model.graph.node if n.op_type == "MatMulInteger" and "/attn/qkv/" in n.name]
    assert sorted({int(x.split("blocks.")[1].split("/")[0]) for x in qkv_int}) == [1, 2]
    assert read_metadata(exported[0] / "model_int8_ort.onnx").extra["fused_attention_blocks"] == 2


def test_a_kept_qkv_group_stays_fp32_attention(exported, tmp_path):
    """Keeping the qkv group (the precision search does) keeps the fused blocks as FP32 Attention nodes."""
    from droptrack.export.quantize import Int8Recipe, quantize_int8

    fp32 = exported[0] / "model.onnx"
    quantize_int8(fp32, tmp_path / "keep.onnx", read_metadata(fp32), [], "none", Int8Recipe("ort", keep=("qkv",)))
    model = onnx.load(str(tmp_path / "keep.onnx"))
    assert not _blocks(model, "QAttention") and _blocks(model, "Attention") == [0, 3]
    assert not [n for n in model.graph.node if n.op_type == "MatMulInteger" and "/attn/qkv/" in n.name]
