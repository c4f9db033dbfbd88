"""Export, INT8: the TensorRT (symmetric Q/DQ on an FP16 base) and ONNX Runtime (dynamic U8S8) graphs, kept groups,
--keep-fp32 on the FP16 base, TensorRT-compatibility checks that run without TensorRT, judged on boxes.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from droptrack.export import parity as par
from droptrack.export.onnx import read_metadata
from helpers import cli, one_line_error, tensor_types

pytestmark = pytest.mark.usefixtures("one_thread")


def test_keep_fp32_reaches_the_fp16_base_of_the_tensorrt_int8_graph(exported, tiny, tmp_path):
    """`--int8 --keep-fp32 /box_head/`: the TensorRT graph's head convs read FP32 (FP16 in the plain TensorRT
    graph), its blocks stay FP16, ORT runs it and parity passes; ORT's graph (FP32 base) is as before."""
    import onnxruntime as ort

    F32, F16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    out = tmp_path / "keep8"
    r = cli("export", tiny[0], "--int8", "--int8-target", "trt", "--calib-pairs", 16, "--keep-fp32", "/box_head/",
            "-o", out)
    assert r.exit_code == 0, r.output
    kept, plain = onnx.load(str(out / "model_int8_trt.onnx")), onnx.load(str(exported[0] / "model_int8_trt.onnx"))
    for model, want in ((kept, F32), (plain, F16)):
        types = tensor_types(model)
        convs = [n for n in model.graph.node if n.op_type == "Conv" and "/box_head/" in n.name]
        assert convs and all(types[n.input[0]] == want for n in convs), [types[n.input[0]] for n in convs]
        ln = [n for n in model.graph.node if n.op_type == "LayerNormalization"]
        assert ln and all(types[n.input[0]] == F16 for n in ln)
    meta = read_metadata(out / "model_int8_trt.onnx")
    assert meta.extra["fp32_kept_patterns"] == ["/box_head/"] and meta.extra["fp32_kept_nodes"] > 0
    assert "fp32_kept_patterns" not in read_metadata(exported[0] / "model_int8_trt.onnx").extra
    assert json.loads((out / "parity.json").read_text())["artifacts"]["model_int8_trt.onnx"]["passed"]
    ort.InferenceSession(str(out / "model_int8_trt.onnx"), providers=["CPUExecutionProvider"])
    r = cli("export", tiny[0], "--int8", "--int8-target", "ort", "--keep-fp32", "/box_head/", "-o", tmp_path / "bad")
    assert "add --fp16 or --int8 (with the trt target)" in one_line_error(r)
    assert not (tmp_path / "bad").exists()


def _int8_graph(exported, target: str):
    model = onnx.load(str(exported[0] / f"model_int8_{target}.onnx"))
    return model, {i.name: i for i in model.graph.initializer}, {o: n for n in model.graph.node for o in n.output}


@pytest.mark.parametrize("target", ["trt", "ort"])
def test_no_dequantize_reads_int32(exported, target):
    """TensorRT's parser accepts only INT8/FP8/INT4 into DequantizeLinear (ORT quantizes biases to INT32 by default)."""
    model, inits, producers = _int8_graph(exported, target)
    types = tensor_types(model)
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert dq or target == "ort"          # the ORT graph is dynamic: MatMulInteger, no DQ on weights
    for n in dq:
        assert types.get(n.input[0]) != onnx.TensorProto.INT32, n.name
    # biases stay floating point: no INT32 initializer anywhere
    assert not [i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT32]


def test_trt_int8_graph_is_symmetric_qdq_on_fp16(exported):
    from droptrack.export.precision import ce_rank_nodes

    model, inits, producers = _int8_graph(exported, "trt")
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 19
    assert all(o.domain in ("", "ai.onnx", "ai.onnx.ml") for o in model.opset_import)    # no ORT-only domains
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"QLinearMatMul", "QLinearConv", "MatMulInteger", "DynamicQuantizeLinear"}
    for n in model.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            scale = inits[n.input[1]]
            assert scale.data_type == onnx.TensorProto.FLOAT16, n.name          # FP16 base: FP16 scales
            zp = onnx.numpy_helper.to_array(inits[n.input[2]]) if len(n.input) > 2 else np.zeros(1, np.int8)
            assert zp.dtype == np.int8 and (zp == 0).all(), n.name               # symmetric
        if n.op_type == "QuantizeLinear":                                         # explicit Q -> DQ pairs
            users = [m for m in model.graph.node if n.output[0] in m.input]
            assert users and all(m.op_type == "DequantizeLinear" for m in users), n.name
    types = tensor_types(model)
    ranking = set(ce_rank_nodes(onnx.load(str(exported[0] / "model.onnx"))))   # CE ranking branch: FP32 on purpose
    quantized = 0
    for n in model.graph.node:
        if n.op_type not in ("MatMul", "Gemm", "Conv"):
            continue
        want = onnx.TensorProto.FLOAT if n.name in ranking else onnx.TensorProto.FLOAT16
        assert types[n.output[0]] == want, n.name                                 # every other GEMM: FP16 or INT8
        src = [producers.get(i) for i in n.input[:2]]
        if all(p is not None and p.op_type == "DequantizeLinear" for p in src):
            quantized += 1
            w = src[1]
            assert inits[w.input[0]].data_type == onnx.TensorProto.INT8            # INT8 weights stored as such
            axis = next((a.i for a in w.attribute if a.name == "axis"), 1)
            w_shape = list(inits[w.input[0]].dims)
            assert list(inits[w.input[1]].dims) == [w_shape[axis]], n.name       # per output channel
        else:   # kept in high precision: patch embedding, head convs, attention MatMuls
            assert not any(p is not None and p.op_type == "DequantizeLinear" for p in src), n.name
            assert "patch_embed" in n.name or "box_head" in n.name or "/attn/MatMul" in n.name, n.name
    meta = read_metadata(exported[0] / "model_int8_trt.onnx")
    assert meta.precision == "int8" and meta.extra["calib_pairs"] == 16 and meta.extra["float_base"] == "fp16"
    assert quantized == meta.extra["quantized_nodes"] > 0


def test_trt_int8_graph_quantizes_the_inputs_of_its_gemms_only(exported):
    """TensorRT's graph puts Q/DQ on the inputs of the quantized MatMul/Gemm/Conv, never on their outputs (TensorRT's
    Q/DQ placement advice; ModelOpt's TensorRT settings exclude output quantization): a Q on the qkv projection's
    output rounded q, k and v to INT8 before the attention that is kept in FP16, and fc1's output before GELU."""
    model, _, producers = _int8_graph(exported, "trt")
    fed = [(n.name, producers[n.input[0]].name) for n in model.graph.node if n.op_type == "QuantizeLinear"
           and n.input[0] in producers and producers[n.input[0]].op_type in ("MatMul", "Gemm", "Conv")]
    assert fed == []
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)   # the inputs are still quantized


def test_ort_int8_graph_is_dynamic_u8s8(exported):
    """ORT CPU: S8 weights in the graph, U8 activations quantized per inference (no calibration), FP32 base."""
    model, inits, producers = _int8_graph(exported, "ort")
    dyn = [n for n in model.graph.node if n.op_type == "DynamicQuantizeLinear"]
    mmi = [n for n in model.graph.node if n.op_type == "MatMulInteger"]
    assert dyn and mmi
    weights = [inits[n.input[1]] for n in mmi if n.input[1] in inits]
    assert weights and all(w.data_type == onnx.TensorProto.INT8 for w in weights)
    assert {n.op_type for n in model.graph.node if "patch_embed" in n.name or "box_head" in n.name} >= {"Conv"}
    meta = read_metadata(exported[0] / "model_int8_ort.onnx")
    assert meta.extra["float_base"] == "fp32" and meta.extra["int8_mode"] == "dynamic" and meta.extra["calib_pairs"] == 0


def test_ort_int8_per_channel_recipe_has_one_weight_scale_per_output_channel(exported, tmp_path):
    """`Int8Recipe(per_channel=True)` on the ORT graph: each MatMulInteger weight [K, N] gets N zero points/scales
    (the shipped default: one per tensor)."""
    from droptrack.export.quantize import Int8Recipe, quantize_int8

    fp32 = exported[0] / "model.onnx"
    for per_channel, path in ((True, tmp_path / "pc.onnx"), (None, exported[0] / "model_int8_ort.onnx")):
        if per_channel:
            quantize_int8(fp32, path, read_metadata(fp32), [], "none", Int8Recipe("ort", keep=(), per_channel=True))
        model = onnx.load(str(path))
        inits = {i.name: i for i in model.graph.initializer}
        mmi = [n for n in model.graph.node if n.op_type == "MatMulInteger" and n.input[1] in inits]
        assert mmi
        for n in mmi:                     # MatMulInteger(a, b, a_zero_point, b_zero_point): one b zero point per scale
            k, cols = inits[n.input[1]].dims
            assert list(inits[n.input[3]].dims) == ([cols] if per_channel else []), n.name
        assert read_metadata(path).extra["weights"] == ("int8 per channel" if per_channel else "int8 per tensor")


def test_ort_int8_reduce_range_weights_cannot_saturate_vpmaddubsw(exported, tmp_path):
    """`Int8Recipe(reduce_range=True)`: every S8 weight of the ORT graph (MatMulInteger, QAttention, the head's
    im2col GEMM) lies in -64..64, so a pair of u8 x s8 products fits VPMADDUBSW's int16 (2 x 255 x 64 = 32,640 <=
    32,767); the 8-bit graph uses the full range (its pair sums can reach 2 x 255 x 127 = 64,770)."""
    from droptrack.export.quantize import Int8Recipe, quantize_int8

    fp32 = exported[0] / "model.onnx"
    path = tmp_path / "rr.onnx"
    quantize_int8(fp32, path, read_metadata(fp32), [], "none", Int8Recipe("ort", keep=(), reduce_range=True))

    def int8_weights(p):
        arrays = [onnx.numpy_helper.to_array(i) for i in onnx.load(str(p)).graph.initializer]
        return [a for a in arrays if a.dtype == np.int8 and a.size > 1]

    reduced, full = int8_weights(path), int8_weights(exported[0] / "model_int8_ort.onnx")
    assert len(reduced) == len(full) > 0
    assert max(int(np.abs(a.astype(np.int32)).max()) for a in reduced) * 255 * 2 <= 32767
    assert max(int(np.abs(a.astype(np.int32)).max()) for a in full) == 127
    assert read_metadata(path).extra["weights"] == "int8 (7-bit range) per tensor"
    assert not Int8Recipe("trt", reduce_range=True).weights_reduced()   # TensorRT's graph has no such kernels


def test_ort_int8_kept_group_stays_fp32(exported, tmp_path):
    """A kept group is not quantized in the ORT graph (ORT renames each Gemm before matching nodes_to_exclude)."""
    from droptrack.export.quantize import Int8Recipe, quantize_int8

    fp32 = exported[0] / "model.onnx"
    qkv = [n.name for n in onnx.load(str(fp32)).graph.node
           if n.op_type in ("MatMul", "Gemm") and "/attn/qkv/" in n.name]
    shipped = [n for n in onnx.load(str(exported[0] / "model_int8_ort.onnx")).graph.node
               if n.op_type == "MatMulInteger"]
    quantize_int8(fp32, tmp_path / "keep.onnx", read_metadata(fp32), [], "none", Int8Recipe("ort", keep=("qkv",)))
    model = onnx.load(str(tmp_path / "keep.onnx"))
    mmi = [n for n in model.graph.node if n.op_type == "MatMulInteger"]
    # the shipped graph runs the plain blocks' qkv inside QAttention (test_export_ort_attention.py): only the CE
    # blocks' qkv are MatMulInteger there, and keeping the group takes exactly those out
    assert qkv and len(mmi) == len(shipped) - len([n for n in shipped if "/attn/qkv/" in n.name]) > 0
    assert not [n.name for n in mmi if "/attn/qkv/" in n.name]
    assert [n for n in model.graph.node if n.op_type in ("MatMul", "Gemm") and "/attn/qkv/" in n.name]
    # made from the FP32 graph's metadata (as the precision search does), it still says INT8: dt bench picks its
    # gates (3 % diverged, 1 AUC point) by this field, and had judged the search's graphs by FP32's (1 %, 0.1)
    assert read_metadata(fp32).precision == "fp32" and read_metadata(tmp_path / "keep.onnx").precision == "int8"


@pytest.mark.parametrize("name", ["model_int8_trt.onnx", "model_int8_ort.onnx"])
def test_int8_graphs_judged_on_boxes(exported, name):
    d = json.loads((exported[0] / "parity.json").read_text())["artifacts"][name]
    tol = par.TOLERANCES["int8"]
    assert d["passed"] and d["box_agreement"] >= tol.min_agreement
    assert sum(b["iou"] >= tol.min_iou for b in d["boxes"]) >= 3


def test_layer_groups_from_node_names():
    from droptrack.export.groups import group_of, matches

    assert group_of("/model/backbone/blocks.11/attn/qkv/MatMul_output_0") == "block11.qkv"
    assert group_of("/model/backbone/blocks.3/attn/MatMul_1") == "block3.attn"
    assert group_of("/model/backbone/blocks.3/attn/proj/MatMul_output_0") == "block3.proj"
    assert group_of("/model/backbone/blocks.0/mlp/fc2/MatMul_output_0") == "block0.mlp"
    assert group_of("/model/backbone/patch_embed/proj_1/Conv") == "patch_embed"
    assert group_of("/model/box_head/conv5_ctr/Conv") == "head"
    assert group_of("/model/Gemm_7") is None
    assert matches("block3.attn", ("attn",)) and matches("block3.attn", ("block3",))
    assert not matches("block10.qkv", ("block1",)) and not matches("block3.qkv", ("attn", "head"))


def test_int8_keep_reuses_a_kept_set_without_searching(tiny, tmp_path):
    """`--int8-keep` writes the graph a search's reported kept set describes: those groups stay FP32 (no integer
    MatMul in them), every other weight MatMul is INT8, and the metadata names the kept groups."""
    out = tmp_path / "keep"
    r = cli("export", tiny[0], "--int8", "--int8-target", "ort", "--int8-keep", "block0.qkv,mlp", "--calib-pairs", 8,
            "-o", out)
    assert r.exit_code == 0, r.output
    depth = len(tiny[1].backbone.blocks)
    meta = read_metadata(out / "model_int8_ort.onnx")
    assert sorted(meta.extra["kept_groups"]) == sorted(["block0.qkv"] + [f"block{i}.mlp" for i in range(depth)])
    integer = [n.name for n in onnx.load(str(out / "model_int8_ort.onnx")).graph.node if n.op_type == "MatMulInteger"]
    assert integer and not [n for n in integer if "/mlp/" in n or "blocks.0/attn/qkv" in n]
    assert [n for n in integer if "/attn/proj/" in n]


@pytest.mark.parametrize("args, words", [
    (("--int8", "--int8-keep", "blk1"), "'blk1' names no layer group"),
    (("--int8-keep", "block1"), "--int8-keep only used with --int8"),
    (("--int8", "--auto-precision", "--int8-keep", "block1"), "give one of them"),
    (("--int8", "--int8-keep", "block0,block99"), "block99: this model has blocks block0 to block"),
    (("--int8", "--int8-keep", "block01.mlp"), "'block01.mlp' names no layer group"),   # it kept nothing, exit 0
    (("--int8", "--int8-keep", "none,block0.mlp"), "'none' (every group INT8) cannot go with group names"),
])
def test_int8_keep_bad_input(tiny, tmp_path, args, words):
    """A misspelt or impossible --int8-keep: one line naming it, before any output folder exists."""
    line = one_line_error(cli("export", tiny[0], *args, "-o", tmp_path / "o"))
    assert words in line
    assert not (tmp_path / "o").exists()


def test_kept_groups_are_listed_in_network_order(tmp_path):
    """A model of 11 blocks: the kept groups its INT8 metadata and the export summary name run block0 ... block10 (they
    were sorted as text, block10 before block2)."""
    import torch

    from droptrack.config import load_config
    from droptrack.model import build_model
    from droptrack.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    cfg.MODEL.BACKBONE.DEPTH = 11
    ckpt = tmp_path / "deep.pt"
    save_checkpoint(ckpt, build_model(cfg).eval(), cfg)
    r = cli("export", ckpt, "--int8", "--int8-target", "ort", "--int8-keep", "mlp", "--calib-pairs", 8,
            "-o", tmp_path / "e")
    assert r.exit_code == 0, r.output
    kept = read_metadata(tmp_path / "e" / "model_int8_ort.onnx").extra["kept_groups"]
    assert kept == [f"block{i}.mlp" for i in range(11)], kept


def test_int8_keep_of_groups_the_graph_does_not_quantize_is_said(tiny, tmp_path):
    """ONNX Runtime's INT8 graph quantizes the blocks' weight MatMuls only: `--int8-keep block0.attn,patch_embed`
    kept 'nothing (0 nodes)' without a word on why; the note now says those groups have no INT8 node there."""
    r = cli("export", tiny[0], "--int8", "--int8-target", "ort", "--int8-keep", "block0.attn,patch_embed,block1.mlp",
            "--calib-pairs", 8, "-o", tmp_path / "k")
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "FP32 kept: block1.mlp" in said, said
    assert "--int8-keep block0.attn, patch_embed: no INT8 node there in this graph (already FP32)" in said, said
