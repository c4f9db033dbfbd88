"""`dt export --ort`: model_ort.onnx, the FP32 graph for ONNX Runtime (a frame's crops in one call, fused attention).

The reference is model.onnx of the same export, run item by item (static batch 1, standard ops): model_ort.onnx must
give its outputs for any number of items, including a count that is not a multiple of its batch, and the same boxes
when tracking. The tiny test model has 4 blocks with candidate elimination in blocks 1 and 2, so the two plain
attention blocks (0 and 3) are fused and the two CE blocks stay as they are.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import cli, one_line_error


def _nodes(path):
    import onnx

    return [(n.domain, n.op_type) for n in onnx.load(str(path)).graph.node]


def test_ort_graph_is_batched_fused_and_verified(scale_export):
    import onnx

    out, res = scale_export
    ort_graph = onnx.load(str(out / "model_ort.onnx"))
    assert [d.dim_value for d in ort_graph.graph.input[0].type.tensor_type.shape.dim] == [2, 3, 64, 64]
    assert _nodes(out / "model_ort.onnx").count(("com.microsoft", "Attention")) == 2   # blocks 0 and 3
    assert not any(d == "com.microsoft" for d, _ in _nodes(out / "model.onnx"))   # TensorRT's input: standard ops
    row = json.loads((out / "parity.json").read_text())["artifacts"]["model_ort.onnx"]
    assert row["passed"] and row["precision"] == "fp32"
    meta = {p.key: json.loads(p.value) for p in ort_graph.metadata_props}
    assert meta["droptrack.extra"]["batch"] == 2 and meta["droptrack.extra"]["fused_attention"] == 2
    assert "next: dt run VIDEO --model " in res.output and "model_ort.onnx --init X,Y,W,H" in res.output
    assert "model_ort.onnx: for ONNX Runtime (not TensorRT): 2 crops per call, 2 attention blocks" in res.output
    from droptrack.engine.model_cost import onnx_cost

    # dt doctor's FLOPs are one template and search pair's: the batch of 2 and the fused nodes count as model.onnx
    assert onnx_cost(out / "model_ort.onnx").flops == onnx_cost(out / "model.onnx").flops > 0


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_any_item_count_gives_model_onnx_outputs(scale_export, n):
    from droptrack.engine.onnxruntime_backend import OrtBackend

    out, _ = scale_export
    rng = np.random.default_rng(n)
    z = rng.standard_normal((n, 3, 64, 64)).astype(np.float32)
    x = rng.standard_normal((n, 3, 128, 128)).astype(np.float32)
    one, two = OrtBackend(out / "model.onnx", threads=1), OrtBackend(out / "model_ort.onnx", threads=1)
    got = two.infer(z, x)
    for i in range(n):   # the reference: the batch-1 graph, one item at a time
        ref = one.infer(z[i:i + 1], x[i:i + 1])
        for k, v in ref.items():
            assert got[k].shape[0] == n
            np.testing.assert_allclose(got[k][i:i + 1], v, rtol=0, atol=1e-5)


def test_tracks_as_model_onnx(scale_export, frames):
    from droptrack import load_tracker

    out, _ = scale_export
    boxes = {}
    for name in ("model.onnx", "model_ort.onnx"):
        tracker = load_tracker(out / name, threads=1)
        tracker.initialize(frames[0], (60, 40, 40, 50))
        boxes[name] = np.array([tracker.track(f)[0] for f in frames[1:]])
        tracker.close()
    assert boxes["model.onnx"].shape == (len(frames) - 1, 4)
    np.testing.assert_allclose(boxes["model_ort.onnx"], boxes["model.onnx"], rtol=0, atol=1e-3)


def test_batch_follows_the_crops_a_target_takes():
    from droptrack.artifact import ArtifactMeta
    from droptrack.export.ort_graph import crops_per_target

    def meta(tracker):
        return ArtifactMeta("droptrack", "x", 64, 128, 2.0, 4.0, 16, tracker=tracker)

    assert crops_per_target(meta({})) == 1   # the official procedure: one crop per frame
    assert crops_per_target(meta({"SCALE_SEARCH": [0.8]})) == 2
    assert crops_per_target(meta({"SCALE_SEARCH": [0.8, 1.25]})) == 3
    assert crops_per_target(meta({"SCALE_SEARCH": [0.8], "SCALE_GATE": 0.6})) == 1   # most frames send one crop


def test_ort_refused_for_a_graph_and_a_foreign_file(onnx_model, tmp_path):
    res = cli("export", onnx_model, "--ort")
    assert one_line_error(res).startswith(f"error: '{onnx_model}' is an exported graph: only its engine is built")
    assert "--ort applies to a checkpoint export" in one_line_error(res)
    (tmp_path / "model_ort.onnx").write_bytes(b"not a graph of ours")
    res = cli("export", "--ort", "-o", tmp_path)
    assert res.exit_code == 2
    assert "holds 'model_ort.onnx', which this export would replace, and no dt export wrote it" in one_line_error(res)
    assert (tmp_path / "model_ort.onnx").read_bytes() == b"not a graph of ours"


@pytest.mark.parametrize("name", ["model.onnx", "model_ort.onnx"])
def test_no_items_give_empty_maps(scale_export, name):
    from droptrack.engine.onnxruntime_backend import OrtBackend

    out, _ = scale_export
    got = OrtBackend(out / name, threads=1).infer(np.zeros((0, 3, 64, 64), np.float32),
                                                  np.zeros((0, 3, 128, 128), np.float32))
    # as the torch backend: (0, C, F, F) maps, F = 128 px search / stride 16 = 8
    assert {k: v.shape for k, v in got.items()} == {"score_map": (0, 1, 8, 8), "size_map": (0, 2, 8, 8),
                                                    "offset_map": (0, 2, 8, 8)}


def test_run_says_when_its_crops_do_not_fill_the_batch(scale_export, video, tmp_path):
    # model_ort.onnx takes 2 crops a call: the scale search's 2 fill it (no note); without it each frame's 1 crop is
    # padded with a copy, and with a gate a frame sends 1 or 2: dt run says so once and names model.onnx
    out, _ = scale_export
    args = ("run", video, "--model", out / "model_ort.onnx", "--init", "60,40,40,50", "--max-frames", 3)
    full = cli(*args, "-o", tmp_path / "a.txt")
    assert full.exit_code == 0, full.output
    assert "crops a call" not in full.output
    off = cli(*args, "--scale-search", "off", "-o", tmp_path / "b.txt")
    assert off.exit_code == 0, off.output
    assert off.output.count("the graph runs 2 crops a call") == 1
    assert "this run sends 1 a target each frame" in off.output and "track with model.onnx here" in off.output
    gated = cli(*args, "--scale-gate", "0.5", "-o", tmp_path / "c.txt")
    assert gated.exit_code == 0, gated.output
    assert "this run sends 1 or 2 a target each frame" in gated.output
    plain = cli("run", video, "--model", out / "model.onnx", "--init", "60,40,40,50", "--max-frames", 3,
                "--scale-search", "off", "-o", tmp_path / "d.txt")
    assert plain.exit_code == 0 and "crops a call" not in plain.output   # a batch-1 graph is never padded


def test_another_checkpoints_model_ort_is_named_with_its_flag(scale_export, tmp_path):
    import shutil

    out, _ = scale_export
    for f in ("model.onnx", "model_ort.onnx", "parity.json"):   # the tiny checkpoint's --ort export, then the
        shutil.copyfile(out / f, tmp_path / f)                  # embedded model's plain export into its folder
    res = cli("export", "-o", tmp_path)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "also holds artifacts of another checkpoint, not rewritten by this export: model_ort.onnx" in text
    assert "re-export those precisions (model_ort.onnx: with --ort) or move them away" in text
