"""`dt export --auto-precision --calib-method entropy` ran the entropy calibration again for every trial graph,
though its ranges depend only on the pre-processed FP32 graph, the calibration pairs and the target, not on the
groups a trial keeps: the search now calibrates once and every trial reuses those ranges; a trial's activation
scales are those of the same recipe quantized alone (its own, fresh calibration). The export after the search
quantized the chosen recipe with a calibration of its own again: it now takes the search's ranges, so
`dt export --int8 --auto-precision` calibrates exactly once, and the graph it writes has the search's scales."""

from __future__ import annotations

import json
from dataclasses import replace

import onnx
import pytest
from onnx import numpy_helper

from droptrack.export import quantize
from droptrack.export.calibration import calibration_pairs
from droptrack.export.divergence import Evaluator
from droptrack.export.onnx import read_metadata
from droptrack.export.quantize import Int8Recipe, layer_groups, quantize_int8
from helpers import cli


def _activation_scales(path) -> dict[str, float]:
    """The scale of every QuantizeLinear node (activations; weights are stored quantized), by its input tensor."""
    model = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return {n.input[0]: float(inits[n.input[1]]) for n in model.graph.node
            if n.op_type == "QuantizeLinear" and n.input[1] in inits and inits[n.input[1]].size == 1}


@pytest.mark.slow
def test_a_search_calibrates_once_and_every_trial_uses_those_ranges(onnx_model, tiny_ckpt, tmp_path, monkeypatch):
    calls = []
    real = quantize.entropy_ranges
    monkeypatch.setattr(quantize, "entropy_ranges", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(quantize, "ENTROPY_BINS", 512)   # ORT's KL search over 2048 bins took a minute a calibration;
    # what is tested is how often it runs and where its ranges go, not the bins
    pairs = calibration_pairs(read_metadata(onnx_model), None, 8)
    base = Int8Recipe(target="trt", method="entropy")
    work = tmp_path / "work"
    work.mkdir()
    ev = Evaluator(onnx_model, base, pairs, [], work, lambda s: None, reference={})
    groups = [g for g in layer_groups(onnx.load(str(ev.pre), load_external_data=False), "trt") if g != "other"]
    trials = [ev.path([]), ev.path(groups[:1]), ev.path(groups[1:2])]
    assert len(calls) == 1 and ev.calibrations == 1   # three trial graphs, one calibration
    alone = tmp_path / "alone.onnx"   # the all-INT8 recipe quantized on its own: its own calibration
    quantize_int8(onnx_model, alone, read_metadata(onnx_model), pairs[0], pairs[1], replace(base, keep=()))
    assert len(calls) == 2
    fresh = _activation_scales(alone)
    assert fresh and _activation_scales(trials[0]) == fresh
    for trial in trials[1:]:
        scales = _activation_scales(trial)
        assert scales and all(fresh[t] == s for t, s in scales.items())   # the kept groups only drop Q/DQ pairs

    calls.clear()   # the whole export: the search and the graph written after it share one calibration
    out = tmp_path / "export"
    r = cli("export", tiny_ckpt, "--int8", "--int8-target", "trt", "--calib-method", "entropy", "--calib-pairs", 8,
            "--auto-precision", "--val-sequences", 4, "--val-frames", 3, "--max-divergence", 0.25, "--group-by",
            "kind", "-o", out)
    assert r.exit_code in (0, 2) and (out / "model.onnx").is_file(), r.output
    assert len(calls) == 1, r.output
    kept = tuple(json.loads((out / "auto_precision_trt.json").read_text())["kept"])
    written = next(p for p in (out / "model_int8_trt.onnx", out / "model_int8_trt.onnx.failed") if p.is_file())
    chosen = tmp_path / "chosen.onnx"   # the chosen recipe quantized on its own, with a fresh calibration
    quantize_int8(out / "model.onnx", chosen, read_metadata(out / "model.onnx"), pairs[0], pairs[1],
                  replace(base, keep=kept))
    assert len(calls) == 2
    expected = _activation_scales(chosen)
    assert expected and _activation_scales(written) == expected
