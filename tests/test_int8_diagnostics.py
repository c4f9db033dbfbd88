"""benchmarks/int8_error_sources.py and int8_qad.py simulate ONNX Runtime's dynamic INT8 in PyTorch and fold
SmoothQuant into the network; their conclusions hold only if the simulation is ORT's arithmetic and the fold keeps
the FP32 function. Checked against ORT's own DynamicQuantizeLinear / MatMulInteger and hand-computed scales."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper

from test_export_benchmarks import benchmark_script

pytestmark = pytest.mark.usefixtures("one_thread")


def _ort_dynamic_quant(x: np.ndarray) -> np.ndarray:
    """x through ORT's DynamicQuantizeLinear and back (the U8 values times the scale, zero point removed)."""
    g = helper.make_graph(
        [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"]),
         helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])], "dq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(x.shape))])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_simulated_activation_quantization_is_onnxruntimes():
    ies = benchmark_script("int8_error_sources")
    rng = np.random.default_rng(0)
    for x in (rng.normal(0, 2, (64, 48)).astype(np.float32),        # mixed signs
              np.abs(rng.normal(1, 3, (32, 16))).astype(np.float32),  # all positive: 0 joins the range
              (rng.normal(0, 1, (8, 16)) * np.r_[np.ones(15), 40.0]).astype(np.float32)):   # one outlier channel
        ref = _ort_dynamic_quant(x)
        sim = ies.quant_act(torch.from_numpy(x), "tensor").numpy()
        step = (max(x.max(), 0) - min(x.min(), 0)) / 255
        assert np.abs(sim - ref).max() <= 1e-5 * step + 1e-7, "simulation differs from ORT's rounding"
        assert np.abs(sim - x).max() <= 0.5 * step + 1e-6      # and it is a quantization (error <= half a step)


def test_simulated_weight_quantization_is_symmetric_int8():
    ies = benchmark_script("int8_error_sources")
    w = torch.tensor([[0.5, -1.27, 0.004], [0.1, 0.2, -0.3]])
    # per tensor: step 1.27 / 127 = 0.01 -> values rounded to hundredths
    assert torch.allclose(ies.quant_weight(w, False), torch.tensor([[0.5, -1.27, 0.0], [0.1, 0.2, -0.3]]), atol=1e-6)
    # per channel: row 2's step is 0.3 / 127, so 0.1 -> round(42.33) = 42 steps
    assert abs(float(ies.quant_weight(w, True)[1, 0]) - 42 * 0.3 / 127) < 1e-7


def test_smooth_scales_hand_computed():
    ies = benchmark_script("int8_error_sources")
    act = np.array([4.0, 1.0])
    w = np.array([[1.0, 2.0], [0.5, 8.0]])     # column maxima 1 and 8
    assert np.allclose(ies.smooth_scales(act, w, 0.5), [2.0, 1 / np.sqrt(8)])
    assert np.allclose(ies.smooth_scales(act, w, 1.0), [4.0, 1.0])
    assert np.allclose(ies.smooth_scales(act, w, 0.0), [1.0, 1 / 8])


def test_smoothquant_fold_keeps_the_function_and_evens_the_ranges(tiny):
    """alpha = 1 divides every input channel by its own range: afterwards each channel's range is exactly 1."""
    from droptrack.export.calibration import photo_pairs
    from droptrack.export.onnx import export_meta

    ies = benchmark_script("int8_error_sources")
    _, model, cfg = tiny
    pairs = photo_pairs(export_meta(cfg, model, "fp32", "x"), 4)
    ranges = ies.input_ranges(model, pairs)
    assert any(v.max() / v.min() > 2 for v in ranges.values())        # uneven before
    sm = ies.smoothed(model, ranges, 1.0)
    for a, b in ((model, sm),):
        with torch.no_grad():
            for p in pairs:
                z, x = torch.from_numpy(p.template), torch.from_numpy(p.search)
                oa = a(z, x, ce_template_mask=a.template_index)
                ob = b(z, x, ce_template_mask=b.template_index)
                for k in ("score_map", "size_map", "offset_map"):
                    assert torch.allclose(oa[k], ob[k], atol=2e-5), k
    after = ies.input_ranges(sm, pairs)
    for k, v in after.items():
        assert np.allclose(v, 1.0, rtol=1e-4), k
    assert not torch.equal(model.backbone.blocks[0].norm1.weight, sm.backbone.blocks[0].norm1.weight)


def test_int8_qad_runs_end_to_end_and_changes_the_weights(tiny, tmp_path):
    """A 3-step distillation on a tiny model: the student's weights move, and its INT8 graph is compared with the
    teacher's FP32 graph like the plain INT8 graph is (the script's own numbers are in benchmarks/README.md)."""
    import json

    qad = benchmark_script("int8_qad")
    out = tmp_path / "res"
    qad.main(["--model", str(tiny[0]), "--steps", "3", "--batch", "4", "--pairs", "16", "--eval-pairs", "6",
              "--train-sequences", "3,0", "--eval-sequences", "2", "--work", str(tmp_path / "w"), "--out", str(out)])
    rep = json.loads((out / "report.json").read_text())
    assert set(rep["eval"]) == {"teacher, plain ORT INT8", "student FP32", "student ORT INT8 (distilled)"}
    assert rep["largest_weight_change"] > 0
    assert all(v["pairs"] == 6 and v["score_err_median"] >= 0 for v in rep["eval"].values())


def test_int8_qad_refuses_a_bad_train_set_size():
    qad = benchmark_script("int8_qad")
    with pytest.raises(SystemExit) as e:
        qad.parse(["--train-sequences", "240"])
    assert e.value.code == 2


def test_pooled_delta_auc_hand_computed(tmp_path):
    """Reference = ground truth; the candidate loses the target (box moved far away) on 3 frames of one sequence:
    3 diverged frames of the 2 x 9 compared, and a negative ΔAUC; a copy of the reference gives exactly 0."""
    from droptrack.data import get_sequences
    from droptrack.data.synth import generate_synth

    pooled = benchmark_script("pooled_delta_auc")
    data = tmp_path / "set"
    generate_synth(data, 2, 10, 3, size=(160, 120), split="val")
    seqs = get_sequences("synth", data)
    ref = {q.name: np.asarray(q.boxes, np.float64) for q in seqs}
    cand = {k: v.copy() for k, v in ref.items()}
    first = seqs[0].name
    cand[first][4:7, 0] += 1000.0          # far outside: IoU 0 with the reference and the ground truth
    np.savez(tmp_path / "ref.npz", **ref)
    np.savez(tmp_path / "cand.npz", **cand)
    spec = f"{data},{tmp_path / 'ref.npz'},{tmp_path / 'cand.npz'}"
    res = pooled.main(["--set", spec])
    assert res["sequences"] == 2 and res["divergence"] == pytest.approx(3 / 18)
    # AUC of a sequence = mean success (IoU > t, strictly) over 21 thresholds 0..1 of its 10 frames: IoU 1 passes 20
    # of them (not t = 1), IoU 0 none; 3 such frames: -3/10 x 20/21 x 100 points in that sequence, 0 in the other
    assert res["delta"] == pytest.approx(-0.3 * 20 / 21 * 100 / 2, abs=1e-6)
    same = pooled.main(["--set", f"{data},{tmp_path / 'ref.npz'},{tmp_path / 'ref.npz'}"])
    assert same["delta"] == same["low"] == same["high"] == 0 and same["divergence"] == 0
