"""Export: verified FP32 / FP16 ONNX graphs, CE token parity, metadata, ORT backend, stale artifacts, bad input.

The tiny model is exported once per session through `dt export` (fixture `exported` in conftest.py: all three
precisions, `--engine` on a GPU machine); the tests inspect those files. INT8 graphs: test_export_int8.py; engines:
test_export_engine.py; the benchmark scripts' caches: test_export_benchmarks.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from droptrack.artifact import ArtifactMeta, sha256_file
from droptrack.config import meta_from_config
from droptrack.config import load_config
from droptrack.engine.base import OUTPUT_NAMES
from droptrack.errors import BackendError, ExportError
from droptrack.export import ce_parity as ce
from droptrack.export import pairs as pairs_mod
from droptrack.export import parity as par
from droptrack.export.onnx import graph_report, read_metadata
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint
from helpers import cli, one_line_error, tensor_types

pytestmark = pytest.mark.usefixtures("one_thread")


def test_cli_export_writes_verified_graphs_and_summary(exported):
    out, r = exported
    for name in ("model.onnx", "model_fp16.onnx", "model_int8_trt.onnx", "model_int8_ort.onnx", "parity.json"):
        assert (out / name).is_file(), name
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temp files left behind"
    assert "dt export ->" in r.output and "box agreement" in r.output
    assert f"next: dt run VIDEO --model {out / 'model.onnx'} --init X,Y,W,H" in r.output
    assert (f"next: dt bench {out / 'model.onnx'} {out / 'model_fp16.onnx'} {out / 'model_int8_trt.onnx'} "
            f"{out / 'model_int8_ort.onnx'}") in r.output
    data = json.loads((out / "parity.json").read_text())["artifacts"]
    assert all(data[n]["passed"] for n in ("model.onnx", "model_fp16.onnx", "model_int8_trt.onnx",
                                           "model_int8_ort.onnx"))


def test_engine_on_cpu_is_one_line_before_any_work(exported, tiny, tmp_path):
    """`--engine` where no engine can be built was a skipped row after the ONNX exports (exit 0); now it is refused
    in one line (exit 2) before any work: nothing is loaded, no folder made."""
    out, r = exported
    from droptrack.engine.trt_compat import unavailable_reason

    reason = unavailable_reason()
    if reason:
        line = one_line_error(cli("export", tiny[0], "--engine", "-o", tmp_path / "e"))
        assert f"--engine: no engine can be built on this machine: {reason}; " in line and "drop --engine" in line
        assert not (tmp_path / "e").exists()
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



def test_graph_report_reads_shapes_of_a_graph_with_large_weights():
    """The report's shape inference runs without the large weights (a ViT-B's are hundreds of MB): the shapes it
    finds are still those of the full graph, a Reshape's small target included; TopK with an input K is dynamic."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.arange(512 * 8, dtype=np.float32).reshape(512, 8), "w")   # 16 KB: large
    target = numpy_helper.from_array(np.array([2, 4], dtype=np.int64), "target")           # small: kept
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]), helper.make_node("Reshape", ["mm", "target"], ["r"]),
             helper.make_node("Relu", ["r"], ["y"]), helper.make_node("TopK", ["x", "k"], ["vals", "idx"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512]),
                                           helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("idx", TensorProto.INT64, [1, None])], [w, target])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    rep = graph_report(model)
    assert rep.dynamic_tensors == ["vals", "idx"]      # r (2x4, from the kept target) and mm (1x8) are static
    assert not rep.topk_constant_k and rep.opset == 17
    assert rep.op_counts == {"MatMul": 1, "Reshape": 1, "Relu": 1, "TopK": 1}
    assert len(model.graph.initializer) == 2 and not any(i.name == "w" for i in model.graph.input)   # not modified

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


def test_fp16_graph_ranks_ce_tokens_in_fp32_and_leaves_attention_fusable(exported):
    """CE ranking: Softmax -> ... -> TopK all FP32, no Cast to FP16 on the way; attention and LayerNorm: FP16."""
    path = exported[0] / "model_fp16.onnx"
    model = onnx.load(str(path))
    F32, F16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    types = tensor_types(model)
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
        types = tensor_types(model)
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
    assert not (tmp_path / "bad" / "model.onnx").exists() and not (tmp_path / "bad" / "model_fp16.onnx").exists()


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
    from droptrack.runtime.backends import load_backend

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
    assert "names trt twice" in one_line_error(cli("export", ckpt, "--int8", "--int8-target", "trt,trt", "-o",
                                                   tmp_path / "h2"))   # was built twice, its next command refused
    assert not (tmp_path / "h2").exists()
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


def test_failed_export_never_leaves_the_final_name(tiny, tmp_path, monkeypatch, tiny_fp32_export):
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
    shutil.copyfile(tiny_fp32_export / "model.onnx", tmp_path / "model.onnx")   # an earlier export's, left there
    with pytest.raises(pipeline.ParityError, match="kept for inspection") as exc:
        pipeline.export_all(output_dir=tmp_path)
    assert not (tmp_path / "model.onnx").exists() and (tmp_path / "model.onnx.failed").is_file()
    assert exc.value.report.results[0].status == "failed"
    assert json.loads((tmp_path / "parity.json").read_text())["artifacts"]["model.onnx"]["passed"] is False
    assert onnx_mod.DEFAULT_OPSET == 17


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
    r = cli("export", ckpt2, "--fp16", "-o", out)                # rewritten: only the engine is left to name,
    text = " ".join(r.output.split())                           # and the graph it replaced is said
    sha1 = read_metadata(exported[0] / "model.onnx").checkpoint_sha256[:12]
    assert r.exit_code == 0 and "not rewritten by this export: model.engine (checkpoint" in text, r.output
    assert f"replaced model_fp16.onnx (checkpoint {sha1}) of an export of another checkpoint" in text, r.output
