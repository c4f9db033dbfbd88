"""Export: verified FP32 / FP16 / INT8 ONNX graphs, CE token parity, metadata, ORT backend, engine cache, bad input.

The tiny model is exported once per session through `dt export` (all three precisions, `--engine`); the
other tests inspect those files. TensorRT tests are marked `gpu` and skip without TensorRT + CUDA.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from typer.testing import CliRunner

from droptrack.artifact import ArtifactMeta, meta_from_config, sha256_file
from droptrack.cli import app
from droptrack.config import load_config
from droptrack.engine.base import OUTPUT_NAMES
from droptrack.errors import BackendError, ExportError
from droptrack.export import ce_parity as ce
from droptrack.export import pairs as pairs_mod
from droptrack.export import parity as par
from droptrack.export.onnx import graph_report, read_metadata
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """2 shared cores: one torch thread avoids OpenMP stalls under load."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg).eval()
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model, cfg)
    return path, model, cfg


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory):
    """`dt export tiny.pt --fp16 --int8 --engine`, once: (output dir, CLI result)."""
    out = tmp_path_factory.mktemp("export")
    r = cli("export", tiny[0], "--fp16", "--int8", "--calib-pairs", 16, "--engine", "-o", out)
    assert r.exit_code == 0, r.output
    return out, r


def test_cli_export_writes_verified_graphs_and_summary(exported):
    out, r = exported
    for name in ("model.onnx", "model_fp16.onnx", "model_int8_trt.onnx", "model_int8_ort.onnx", "parity.json"):
        assert (out / name).is_file(), name
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temp files left behind"
    assert "dt export ->" in r.output and "box agreement" in r.output
    assert f"next: dt run VIDEO --model {out / 'model.onnx'}" in r.output
    assert (f"next: dt bench {out / 'model.onnx'} {out / 'model_fp16.onnx'} {out / 'model_int8_trt.onnx'} "
            f"{out / 'model_int8_ort.onnx'}") in r.output
    data = json.loads((out / "parity.json").read_text())["artifacts"]
    assert all(data[n]["passed"] for n in ("model.onnx", "model_fp16.onnx", "model_int8_trt.onnx",
                                           "model_int8_ort.onnx"))


def test_engine_on_cpu_is_one_line_and_onnx_still_written(exported):
    out, r = exported
    from droptrack.engine.trt_compat import unavailable_reason

    if unavailable_reason():
        notes = [ln for ln in r.output.splitlines() if "engines not built" in ln]
        assert len(notes) == 1, r.output
        assert not list(out.glob("*.engine"))
    else:  # GPU machine: the engines were built next to the graphs
        assert (out / "model_fp16.engine").is_file() and (out / "model_fp16.engine.json").is_file()


def test_fp32_graph_is_static_with_constant_topk(exported):
    model = onnx.load(str(exported[0] / "model.onnx"))
    rep = graph_report(model)
    assert rep.opset == 17
    assert rep.op_counts.get("TopK") == 2            # one per CE block of tiny_ce_test
    assert rep.topk_constant_k and not rep.dynamic_tensors and "NonZero" not in rep.op_counts
    assert rep.op_counts.get("LayerNormalization", 0) >= 9
    assert [o.name for o in model.graph.output] == list(OUTPUT_NAMES)
    for v in list(model.graph.input) + list(model.graph.output):
        assert all(d.HasField("dim_value") for d in v.type.tensor_type.shape.dim), v.name


def test_fp32_parity_on_real_pairs(exported):
    d = json.loads((exported[0] / "parity.json").read_text())["artifacts"]["model.onnx"]
    assert len(d["boxes"]) >= 2 and len({b["pair"] for b in d["boxes"]}) == len(d["boxes"])
    assert d["max_abs"] <= par.TOLERANCES["fp32"].max_abs
    assert d["cosine"] >= par.TOLERANCES["fp32"].min_cosine
    assert all(b["iou"] >= 0.99 and b["same_peak"] for b in d["boxes"])


def test_ce_keeps_the_same_tokens_as_pytorch(exported, tiny):
    """Kept search tokens from the graph's TopK indices == PyTorch's `global_index_s` (and removed ones)."""
    _, model, cfg = tiny
    meta = read_metadata(exported[0] / "model.onnx")
    pairs = pairs_mod.real_pairs(meta, 4)
    outs = ce.ort_outputs(ce.ort_session(exported[0] / "model.onnx", with_ce=True), pairs)
    keep = meta.extra["keep_counts"]
    assert keep == [k for k in model.backbone.keep_counts() if k is not None]
    with torch.inference_mode():
        for p, o in zip(pairs, outs):
            ref = model(torch.from_numpy(p.template), torch.from_numpy(p.search), ce_template_mask=model.template_index)
            kept = ce.kept_tokens(ce.ce_ranks(o), keep, meta.feat_size ** 2)
            assert kept[-1] == set(ref["global_index_s"][0].long().tolist())
            removed = set(torch.cat(ref["removed_indexes_s"], dim=1)[0].long().tolist())
            assert not kept[-1] & removed and len(kept[-1] | removed) == meta.feat_size ** 2


def _elem_types(model) -> dict[str, int]:
    """Element type of every tensor of a graph (ONNX shape inference)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    vals = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    types = {v.name: v.type.tensor_type.elem_type for v in vals}
    types.update({i.name: i.data_type for i in model.graph.initializer})
    return types


def test_fp16_graph_ranks_ce_tokens_in_fp32_and_leaves_attention_fusable(exported):
    """CE ranking: Softmax -> ... -> TopK all FP32, no Cast to FP16 on the way; attention and LayerNorm: FP16."""
    path = exported[0] / "model_fp16.onnx"
    model = onnx.load(str(path))
    F32, F16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    types = _elem_types(model)
    producers = {o: n for n in model.graph.node for o in n.output}
    for v in list(model.graph.input) + list(model.graph.output):
        assert v.type.tensor_type.elem_type == F32
    topks = [n for n in model.graph.node if n.op_type == "TopK"]
    assert len(topks) == 2
    rank_softmax = set()
    for t in topks:  # walk back from the scores to the ranking softmax: every tensor FP32, no FP16 cast
        node = producers[t.input[0]]
        while node.op_type != "Softmax":
            assert not (node.op_type == "Cast" and node.attribute[0].i == F16), node.name
            assert types[node.output[0]] == F32, node.name
            node = producers[node.input[0]]
        assert types[node.input[0]] == F32 and types[node.output[0]] == F32, node.name
        assert producers[node.input[0]].op_type == "MatMul"     # computed from q.k in FP32, not a cast-back
        rank_softmax.add(node.name)
    attention = [n for n in model.graph.node if n.op_type == "Softmax" and n.name not in rank_softmax]
    assert len(attention) == 4                                  # one per block of tiny_ce_test
    for n in attention:  # MatMul -> Softmax -> MatMul in FP16 with no casts in between (fusable)
        assert types[n.input[0]] == F16 and producers[n.input[0]].op_type == "MatMul", n.name
        consumers = [c for c in model.graph.node if n.output[0] in c.input]
        assert [c.op_type for c in consumers] == ["MatMul"], n.name
    ln = [n for n in model.graph.node if n.op_type == "LayerNormalization"]
    assert ln and all(types[n.input[0]] == F16 and types[n.input[1]] == F16 for n in ln)
    assert path.stat().st_size < 0.75 * (exported[0] / "model.onnx").stat().st_size
    d = json.loads((exported[0] / "parity.json").read_text())["artifacts"]["model_fp16.onnx"]
    tol = par.TOLERANCES["fp16"]
    assert d["passed"] and d["max_abs"] <= tol.max_abs and d["cosine"] >= tol.min_cosine
    assert read_metadata(path).precision == "fp16"


def test_keep_fp32_keeps_the_matched_nodes_in_fp32(exported, tiny, tmp_path):
    """`--keep-fp32 /box_head/`: the head's convs read FP32 inputs and weights (they are FP16 in the plain FP16
    graph), the blocks stay FP16, the graph passes parity and ORT runs it; bad patterns are one-line errors."""
    F32, F16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    out = tmp_path / "keep"
    r = cli("export", tiny[0], "--fp16", "--keep-fp32", "/box_head/", "-o", out)
    assert r.exit_code == 0, r.output
    kept, plain = onnx.load(str(out / "model_fp16.onnx")), onnx.load(str(exported[0] / "model_fp16.onnx"))
    for model, want in ((kept, F32), (plain, F16)):
        types = _elem_types(model)
        convs = [n for n in model.graph.node if n.op_type == "Conv" and "/box_head/" in n.name]
        assert convs and all(types[n.input[0]] == want and types[n.input[1]] == want for n in convs)
        gemms = [n for n in model.graph.node if n.op_type in ("Gemm", "MatMul") and "/blocks." in n.name
                 and "/attn/qkv/" in n.name]
        assert gemms and all(types[n.input[0]] == F16 for n in gemms)
    meta = read_metadata(out / "model_fp16.onnx")
    assert meta.extra["fp32_kept_patterns"] == ["/box_head/"] and meta.extra["fp32_kept_nodes"] > 0
    assert json.loads((out / "parity.json").read_text())["artifacts"]["model_fp16.onnx"]["passed"]
    for args, word in ((("--fp16", "--keep-fp32", "("), "not a regular expression"),
                       (("--keep-fp32", "/box_head/"), "add --fp16")):
        assert word in one_line_error(cli("export", tiny[0], *args, "-o", tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()                     # refused before any work
    r = cli("export", tiny[0], "--fp16", "--keep-fp32", "no_such_node", "-o", tmp_path / "bad")
    last = [ln for ln in r.output.splitlines() if ln.strip()][-1]   # known once the FP32 graph exists
    assert r.exit_code == 2 and last.startswith("error: ") and "matches no node" in last and "Traceback" not in r.output
    assert (tmp_path / "bad" / "model.onnx").is_file() and not (tmp_path / "bad" / "model_fp16.onnx").exists()


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
        types = _tensor_types(model)
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


def _tensor_types(model) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    vals = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    types = {v.name: v.type.tensor_type.elem_type for v in vals}
    types.update({i.name: i.data_type for i in model.graph.initializer})
    return types


@pytest.mark.parametrize("target", ["trt", "ort"])
def test_no_dequantize_reads_int32(exported, target):
    """TensorRT's parser accepts only INT8/FP8/INT4 into DequantizeLinear (ORT quantizes biases to INT32 by default)."""
    model, inits, producers = _int8_graph(exported, target)
    types = _tensor_types(model)
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
    types = _tensor_types(model)
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
    assert qkv and len(mmi) == len(shipped) - len(qkv)
    assert not [n.name for n in mmi if "/attn/qkv/" in n.name]
    assert [n for n in model.graph.node if n.op_type in ("MatMul", "Gemm") and "/attn/qkv/" in n.name]


@pytest.mark.parametrize("name", ["model_int8_trt.onnx", "model_int8_ort.onnx"])
def test_int8_graphs_judged_on_boxes(exported, name):
    d = json.loads((exported[0] / "parity.json").read_text())["artifacts"][name]
    tol = par.TOLERANCES["int8"]
    assert d["passed"] and d["box_agreement"] >= tol.min_agreement
    assert sum(b["iou"] >= tol.min_iou for b in d["boxes"]) >= 3


def test_layer_groups_from_node_names():
    from droptrack.export.quantize import _matches, group_of

    assert group_of("/model/backbone/blocks.11/attn/qkv/MatMul_output_0") == "block11.qkv"
    assert group_of("/model/backbone/blocks.3/attn/MatMul_1") == "block3.attn"
    assert group_of("/model/backbone/blocks.3/attn/proj/MatMul_output_0") == "block3.proj"
    assert group_of("/model/backbone/blocks.0/mlp/fc2/MatMul_output_0") == "block0.mlp"
    assert group_of("/model/backbone/patch_embed/proj_1/Conv") == "patch_embed"
    assert group_of("/model/box_head/conv5_ctr/Conv") == "head"
    assert group_of("/model/Gemm_7") is None
    assert _matches("block3.attn", ("attn",)) and _matches("block3.attn", ("block3",))
    assert not _matches("block10.qkv", ("block1",)) and not _matches("block3.qkv", ("attn", "head"))


def test_metadata_round_trips(exported, tiny):
    path, model, cfg = tiny
    meta = read_metadata(exported[0] / "model.onnx")
    want = meta_from_config(cfg, arch=model.variant, checkpoint_sha256=sha256_file(path))
    for k in ("arch", "config_name", "template_size", "search_size", "template_factor", "search_factor", "stride",
              "mean", "std", "ce", "droptrack_version", "checkpoint_sha256"):
        assert getattr(meta, k) == getattr(want, k), k
    assert meta.precision == "fp32" and meta.feat_size == 8 and meta.extra["opset"] == 17
    assert ArtifactMeta.from_strings(meta.to_strings()) == meta


def test_ort_backend_runs_numpy_and_torch_and_validates(exported, tiny):
    from droptrack.engine.onnxruntime_backend import OrtBackend, choose_providers
    from droptrack.runtime.tracker import load_backend

    be = load_backend(exported[0] / "model.onnx")
    assert isinstance(be, OrtBackend) and be.providers == ["CPUExecutionProvider"]
    pairs = pairs_mod.real_pairs(be.meta, 2)
    z = np.concatenate([p.template for p in pairs])
    x = np.concatenate([p.search for p in pairs])
    out = be.infer(z, x)                                   # batch 2 on a static batch-1 graph
    assert all(isinstance(out[k], np.ndarray) and out[k].shape[0] == 2 for k in OUTPUT_NAMES)
    ref, _ = ce.torch_outputs(tiny[1], pairs)
    assert np.abs(out["score_map"][1:] - ref[1]["score_map"]).max() < 1e-4
    out_t = be.infer(torch.from_numpy(z[:1]), torch.from_numpy(x[:1]))
    assert np.allclose(out_t["size_map"], out["size_map"][:1])
    assert len(be.latencies_ms) == 2
    with pytest.raises(BackendError, match="expects"):
        be.infer(z[:, :, :32], x)
    with pytest.raises(BackendError, match="float32"):
        be.infer(z.astype(np.float64), x)
    assert choose_providers("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert choose_providers("cuda", ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
                            tensorrt_ok=True)[0] == "TensorrtExecutionProvider"
    with pytest.raises(BackendError, match="onnxruntime-gpu"):
        choose_providers("cuda", ["CPUExecutionProvider"])


def test_precision_parsing():
    from droptrack.export.precision import parse_precisions

    assert parse_precisions("fp16,int8") == ["fp32", "fp16", "int8"]
    assert parse_precisions(["half", "fp32"]) == ["fp32", "fp16"]
    with pytest.raises(ExportError, match="did you mean 'fp16'"):
        parse_precisions("fp61")


def test_bad_input_one_line_errors(tiny, tmp_path):
    ckpt = tiny[0]
    assert "opset 16" in one_line_error(cli("export", ckpt, "--opset", 16, "-o", tmp_path / "a"))
    assert "unknown precision" in one_line_error(cli("export", ckpt, "--precision", "fp8", "-o", tmp_path / "b"))
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    assert "is a file" in one_line_error(cli("export", ckpt, "-o", afile))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert "bad.pt" in one_line_error(cli("export", bad, "-o", tmp_path / "c"))
    assert "too few" in one_line_error(cli("export", ckpt, "--int8", "--calib-pairs", 2, "-o", tmp_path / "d"))
    assert "--int8" in one_line_error(cli("export", ckpt, "--calib", "photos", "-o", tmp_path / "e"))
    assert "--int8" in one_line_error(cli("export", ckpt, "--auto-precision", "-o", tmp_path / "f"))
    assert "minmax" in one_line_error(cli("export", ckpt, "--int8", "--calib-method", "kl", "-o", tmp_path / "g"))
    assert "trt, ort" in one_line_error(cli("export", ckpt, "--int8", "--int8-target", "tflite", "-o", tmp_path / "h"))
    small = one_line_error(cli("export", ckpt, "--int8", "--auto-precision", "--val-sequences", 10, "-o", tmp_path / "i"))
    assert "needs at least 34 validation sequences" in small                  # ceil(1 / 3 %)
    assert "at least 5 validation" in one_line_error(cli("export", ckpt, "--int8", "--auto-precision", "--val-sequences",
                                                        4, "--max-divergence", 0.2, "-o", tmp_path / "j"))
    for opt, value in (("--workspace", "nan"), ("--workspace", -1), ("--trt-typing", "weak")):   # before any export
        assert f"{opt} {value}" in one_line_error(cli("export", ckpt, "--engine", opt, value, "-o", tmp_path / "k"))
    nope = tmp_path / "nope"           # --calib and --val data were read only after the FP32 export
    assert "does not exist" in one_line_error(cli("export", ckpt, "--int8", "--calib", f"got10k:{nope}", "-o",
                                                  tmp_path / "k"))
    assert f"--val '{nope}'" in one_line_error(cli("export", ckpt, "--int8", "--auto-precision", "--val", nope, "-o",
                                                   tmp_path / "k"))
    with pytest.raises(ExportError, match="too few|gave only"):
        from droptrack.export.calibration import calibration_pairs

        calibration_pairs(read_meta_like(), "photos", 4)
    assert not any((tmp_path / n).exists() for n in ("a", "b", "d", "e", "f", "g", "h", "i", "j", "k"))


def read_meta_like() -> ArtifactMeta:
    return meta_from_config(load_config("tiny_ce_test"))


def test_failed_export_never_leaves_the_final_name(tiny, tmp_path, monkeypatch):
    from droptrack.export import onnx as onnx_mod
    from droptrack.export import pipeline

    _, model, cfg = tiny

    def broken(wrapper, inputs, path, opset, names):
        Path(path).write_bytes(b"half-written")
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(pipeline, "torch_to_onnx", broken)
    with pytest.raises(RuntimeError):
        pipeline.export_onnx(model=model, cfg=cfg, output_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    strict = par.Tolerance(max_abs=0.0, min_cosine=1.1, min_iou=1.1)
    monkeypatch.setitem(par.TOLERANCES, "fp32", strict)
    monkeypatch.setattr("droptrack.model.default.default_checkpoint", lambda: tiny[0])   # no CHECKPOINT: default
    (tmp_path / "model.onnx").write_bytes(b"an earlier export")   # was left under the final name
    with pytest.raises(pipeline.ParityError, match="kept for inspection") as exc:
        pipeline.export_all(output_dir=tmp_path)
    assert not (tmp_path / "model.onnx").exists() and (tmp_path / "model.onnx.failed").is_file()
    assert exc.value.report.results[0].status == "failed"
    assert json.loads((tmp_path / "parity.json").read_text())["artifacts"]["model.onnx"]["passed"] is False
    assert onnx_mod.DEFAULT_OPSET == 17


def test_engine_cache_key_changes_with_every_input():
    from droptrack.export.tensorrt import engine_cache_key

    base = dict(onnx_sha256="a" * 64, precision="fp16",
                env={"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"},
                io_shapes={"template": {"shape": [1, 3, 192, 192]}}, meta={"config_name": "x"},
                workspace_bytes=1 << 32, typing="strong")
    key = engine_cache_key(**base)
    assert key == engine_cache_key(**json.loads(json.dumps(base)))
    variants = [("onnx_sha256", "b" * 64), ("precision", "int8"), ("io_shapes", {"template": {"shape": [1, 3, 128, 128]}}),
                ("meta", {"config_name": "y"}), ("workspace_bytes", 1 << 30), ("typing", "flags")]
    variants += [("env", {**base["env"], k: v}) for k, v in
                 (("tensorrt", "11.4.1"), ("cuda", "13.0"), ("driver", "580.1"), ("gpu", "RTX 4090"),
                  ("compute_capability", "8.9"))]
    keys = {engine_cache_key(**{**base, k: v}) for k, v in variants}
    assert key not in keys and len(keys) == len(variants)


def test_engine_build_cache_and_refusal_without_tensorrt(exported, tmp_path, monkeypatch):
    """Cache flow and sidecar with the TensorRT build stubbed out (the real build is the gpu test below)."""
    from droptrack.engine import trt_compat
    from droptrack.engine.tensorrt_backend import TensorRTBackend, compat_problems, sidecar_path
    from droptrack.export import tensorrt as trt_mod

    onnx_path = tmp_path / "model_fp16.onnx"
    onnx_path.write_bytes((exported[0] / "model_fp16.onnx").read_bytes())
    env = {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"}
    builds = []
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(env))
    monkeypatch.setattr(trt_mod, "_build_plan", lambda *a, **k: (builds.append(a) or b"PLAN", ["stub"]))
    cache = tmp_path / "cache"
    first = trt_mod.build_engine(onnx_path, cache=cache)
    again = trt_mod.build_engine(onnx_path, cache=cache)
    assert not first.reused and again.reused and len(builds) == 1 and first.path.read_bytes() == b"PLAN"
    side = json.loads(sidecar_path(first.path).read_text())
    assert side["env"] == env and side["onnx_sha256"] == sha256_file(onnx_path) and side["precision"] == "fp16"
    assert side["io"]["template"]["shape"] == [1, 3, 64, 64] and side["meta"]["config_name"] == "tiny_ce_test"
    assert side["rebuild_command"].startswith(f"dt export {onnx_path} --engine")
    trt_mod.build_engine(onnx_path, cache=cache, workspace_gb=1.0)       # any change rebuilds
    assert len(builds) == 2
    first.path.unlink()
    assert trt_mod.build_engine(onnx_path, cache=cache).reused              # from the cache folder
    assert len(builds) == 2
    other = {**env, "gpu": "RTX 4090", "compute_capability": "8.9"}
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(other))
    with pytest.raises(BackendError, match="rebuild it on this machine: dt export .*--engine") as exc:
        TensorRTBackend(first.path)
    assert "Orin" in str(exc.value) and "RTX 4090" in str(exc.value)
    assert compat_problems(env, env) == []
    r = cli("doctor", first.path)
    assert r.exit_code == 1 and "rebuild" in r.output


def benchmark_script(name: str):
    """A benchmarks/<name>.py script as a module (its caches are tested here)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_int8_accuracy_keeps_each_models_graphs_apart(tiny, tmp_path):
    """benchmarks/bench_int8_accuracy.py kept graphs and tracked boxes in --work itself, so --model OTHER silently
    reused the first model's; each checkpoint now has its own folder."""
    bench = benchmark_script("bench_int8_accuracy")
    torch.manual_seed(1)
    other = save_checkpoint(tmp_path / "other.pt", build_model(tiny[2]).eval(), tiny[2])
    mine = bench.graph_folder(tmp_path, str(tiny[0]))
    assert mine.parent == tmp_path and mine != bench.graph_folder(tmp_path, str(other))
    assert mine == bench.graph_folder(tmp_path, str(tiny[0]))


def test_gpu_precision_check_reads_back_only_boxes_of_the_same_settings(tmp_path):
    """benchmarks/gpu_precision_check.py read any boxes_<mode>.npz in --out back, so a rerun with another --seed,
    --tracker-keys or default model compared old boxes; they now carry their settings and others stop the run."""
    from droptrack.artifact import atomic_savez

    check = benchmark_script("gpu_precision_check")
    mine, seed3 = check.run_settings(2, 40, 60, None), check.run_settings(3, 40, 60, None)
    assert len({mine, seed3, check.run_settings(2, 40, 60, {"CROP_GRID": 0.1})}) == 3
    saved = tmp_path / "boxes_cpu_fp32.npz"
    atomic_savez(saved, {"s1": np.ones((3, 4)), check.MS_KEY: np.float64(1.5), check.SETTINGS_KEY: np.str_(mine)})
    boxes, ms = check.read_saved(saved, mine)
    assert ms == 1.5 and list(boxes) == ["s1"]
    with pytest.raises(SystemExit, match="tracked with other settings"):
        check.read_saved(saved, seed3)


def test_gpu_check_reference_boxes_are_cached_per_graph(exported, tmp_path, frames):
    """benchmarks/gpu_check.py cached the ORT reference boxes under the graph's path only, so a model exported
    again to the same path (gpu_check.sh re-exports into one work folder) was compared with the old model's boxes."""
    import shutil

    gpu_check = benchmark_script("gpu_check")
    clip, boxes = frames[:3], gpu_check.init_boxes(frames[0].shape, 1)
    fresh = {}
    for name in ("model.onnx", "model_int8_ort.onnx"):
        shutil.copy(exported[0] / name, tmp_path / name)
        fresh[name] = gpu_check.ort_reference(tmp_path / name, clip, boxes)
    assert not np.array_equal(*fresh.values())               # the two graphs track differently
    graph = tmp_path / "work" / "model.onnx"
    for name in ("model.onnx", "model_int8_ort.onnx"):       # the same path, exported again
        graph.parent.mkdir(exist_ok=True)
        shutil.copy(exported[0] / name, graph)
        np.testing.assert_array_equal(gpu_check.ort_reference(graph, clip, boxes), fresh[name])
    assert not [p for p in graph.parent.iterdir() if p.name.endswith(".tmp")]


def test_bench_int8_cpu_never_trusts_a_half_written_graph(exported, tmp_path, monkeypatch):
    """benchmarks/bench_int8_cpu.py reuses its graphs by name; ORT's quantizers wrote them in place, so a kill
    mid-write left a truncated var_*.onnx that the rerun timed (or failed on). Now an interrupted write leaves
    nothing under the final name and the rerun makes the graph again."""
    import shutil

    import onnxruntime.quantization as oq

    bench = benchmark_script("bench_int8_cpu")
    shutil.copy(exported[0] / "model.onnx", tmp_path / "model.onnx")
    real = oq.quantize_dynamic

    def killed(model_input, model_output, **kw):
        Path(model_output).write_bytes(b"half an onnx file")
        raise KeyboardInterrupt

    monkeypatch.setattr(oq, "quantize_dynamic", killed)
    with pytest.raises(KeyboardInterrupt):
        bench.variants(tmp_path, "dynamic_per_channel")
    assert not (tmp_path / "var_dynamic_per_channel.onnx").exists()
    monkeypatch.setattr(oq, "quantize_dynamic", real)
    path = bench.variants(tmp_path, "dynamic_per_channel")["ort_int8_dynamic_per_channel"]
    assert onnx.load(str(path)).graph.node and not list(tmp_path.glob(".*.tmp"))


def test_doctor_prints_environment_and_checks_onnx(exported):
    r = cli("doctor", exported[0] / "model_int8_trt.onnx")
    assert r.exit_code == 0, r.output
    for word in ("torch", "onnxruntime", "ort_providers", "tensorrt_status", "int8"):
        assert word in r.output


def test_doctor_bad_input_is_one_line_exit_2(tmp_path):
    """A missing artifact or a folder was a failed check (exit 1, 'not found' even for a folder) after the whole
    environment table; --workers 0 was accepted."""
    for args, words in (([tmp_path / "none.onnx"], "does not exist"), ([tmp_path], "is a folder"),
                        (["--workers", 0], "--workers 0")):
        assert words in one_line_error(cli("doctor", *args))


@pytest.mark.slow
def test_vitb_256_ce_export_passes_parity(tmp_path):
    """The 256-CE ViT-B structure (random weights): ~40 s alone; deselect with -m 'not slow'."""
    from droptrack.export.pipeline import export_onnx

    torch.manual_seed(0)
    cfg = load_config("vitb_256_mae_ce_32x4_ep300")
    res = export_onnx(model=build_model(cfg).eval(), cfg=cfg, output_dir=tmp_path)
    assert res.status == "ok" and res.parity.passed, res.parity.failures
    assert res.parity.token_agreement == 1.0 and res.graph.op_counts["TopK"] == 3
    assert res.graph.clean and res.parity.max_abs <= 1e-4


# ---------------------------------------------------------------- TensorRT (GPU machines only)

def _needs_trt():
    from droptrack.engine.trt_compat import unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)


def _engine_from(exported, tmp_path, name: str):
    """Copy one exported ONNX file into tmp_path and build its engine there (skips without TensorRT)."""
    _needs_trt()
    from droptrack.export.tensorrt import build_engine

    src = tmp_path / name
    src.write_bytes((exported[0] / name).read_bytes())
    return src, build_engine(src, cache=tmp_path / "cache")


@pytest.mark.gpu
def test_tensorrt_engine_builds_runs_and_caches(exported, tmp_path):
    from droptrack.engine.tensorrt_backend import TensorRTBackend
    from droptrack.export.tensorrt import build_engine

    src, first = _engine_from(exported, tmp_path, "model_fp16.onnx")
    assert not first.reused and build_engine(src, cache=tmp_path / "cache").reused
    with TensorRTBackend(first.path) as be:
        pairs = pairs_mod.real_pairs(be.meta, 2)
        ref = ce.ort_outputs(src, pairs)
        for p, r in zip(pairs, ref):
            out = be.infer(p.template, p.search)                        # numpy in, numpy out
            assert isinstance(out["score_map"], np.ndarray) and np.isfinite(out["offset_map"]).all()
            a, b = out["score_map"].ravel().astype(np.float64), r["score_map"].ravel().astype(np.float64)
            assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.99   # CE near-ties may flip (random weights)
            z, x = torch.from_numpy(p.template).cuda(), torch.from_numpy(p.search).cuda()
            out_t = be.infer(z, x)                                        # torch CUDA in, CUDA out
            assert out_t["score_map"].is_cuda
            assert torch.allclose(out_t["score_map"].cpu(), torch.from_numpy(out["score_map"]), atol=1e-5)


@pytest.mark.gpu
def test_tensorrt_int8_engine_and_tracker(exported, tmp_path):
    from droptrack.runtime.tracker import load_backend

    src, res = _engine_from(exported, tmp_path, "model_int8_trt.onnx")
    be = load_backend(res.path)
    pairs = pairs_mod.real_pairs(be.meta, 4)
    outs = [be.infer(p.template, p.search) for p in pairs]
    ref = ce.ort_outputs(src, pairs)
    boxes = par.box_stats(outs, ref, pairs, be.meta.feat_size)
    assert sum(b.iou >= 0.7 for b in boxes) >= 3


@pytest.mark.parametrize("tool", ["onnxconverter-common", "onnxruntime.transformers.float16"])
def test_fp16_graph_is_topologically_sorted_with_either_converter(exported, tool):
    """ONNX Runtime's FP16 converter (the fallback without onnxconverter-common, as on a bare GPU image) appends its
    input casts after their consumers; the export sorts the nodes so onnx.checker (and TensorRT) accept the graph,
    and it computes what the FP32 graph computes (to FP16 precision)."""
    import onnxruntime as ort

    from droptrack.export.precision import fp16_model, topo_sort

    fp32 = onnx.load(str(exported[0] / "model.onnx"))
    half = fp16_model(onnx.load(str(exported[0] / "model.onnx")), tool=tool)
    onnx.checker.check_model(half)
    feeds = {i.name: np.random.default_rng(0).standard_normal([d.dim_value or 1 for d in i.type.tensor_type.shape.dim])
             .astype(np.float32) for i in fp32.graph.input}
    a = ort.InferenceSession(fp32.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    b = ort.InferenceSession(half.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    assert np.allclose(a[0], b[0], atol=0.05)  # the score map, FP16 rounding only
    # a shuffled graph is put back in order; an ordered one is left as it is
    nodes = list(half.graph.node)
    del half.graph.node[:]
    half.graph.node.extend(nodes[::-1])
    topo_sort(half.graph)
    onnx.checker.check_model(half)
    before = half.SerializeToString()
    topo_sort(half.graph)
    assert half.SerializeToString() == before


def test_export_names_artifacts_of_another_checkpoint_it_did_not_rewrite(exported, tmp_path):
    """dt export CKPT2 into a folder that holds CKPT1's FP16 graph and engine: model.onnx is rewritten, the others
    are not, so the summary names them (a later dt bench / dt run would take them for CKPT2's); nothing is deleted."""
    import shutil

    from droptrack.engine.tensorrt_backend import sidecar_path

    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(exported[0] / "model_fp16.onnx", out / "model_fp16.onnx")
    (out / "model.engine").write_bytes(b"plan")
    sidecar_path(out / "model.engine").write_text(json.dumps(
        {"meta": {"checkpoint_sha256": read_metadata(exported[0] / "model.onnx").checkpoint_sha256}}))
    (out / "notes.onnx").write_bytes(b"not a graph")           # not droptrack's: not judged
    torch.manual_seed(1)
    cfg = load_config("tiny_ce_test")
    ckpt2 = tmp_path / "other.pt"
    save_checkpoint(ckpt2, build_model(cfg).eval(), cfg)
    before = (out / "model_fp16.onnx").read_bytes()
    r = cli("export", ckpt2, "-o", out)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "another checkpoint" in text and "model_fp16.onnx" in text and "model.engine" in text, r.output
    assert "notes.onnx" not in text
    assert (out / "model_fp16.onnx").read_bytes() == before and (out / "model.engine").is_file()
    r = cli("export", ckpt2, "--fp16", "-o", out)                # rewritten: only the engine is left to name
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and "model.engine" in text and "model_fp16.onnx (checkpoint" not in text, r.output
