"""`dt export --auto-precision --calib-method entropy` ran the entropy calibration again for every trial graph,
though its ranges depend only on the pre-processed FP32 graph, the calibration pairs and the target, not on the
groups a trial keeps: the search now calibrates once and every trial reuses those ranges; a trial's activation
scales are those of the same recipe quantized alone (its own, fresh calibration). The export after the search
quantized the chosen recipe with a calibration of its own again: it now takes the search's ranges, so
`dt export --int8 --auto-precision` calibrates exactly once, and the graph it writes has the search's scales.

That held for entropy only: with minmax (the default) and percentile every trial graph, and the graph written after
the search, ran ONNX Runtime's calibration inside quantize_static again, and entropy's trials each ran a minmax
pass whose ranges were then overridden. The search now calibrates once with any method and hands the ranges to
quantize_static (`calibration_cache_path`), which then runs no calibration; the calibrations counted are ONNX
Runtime's own (`create_calibrator`), wherever they are made."""

from __future__ import annotations

import importlib
import json
from dataclasses import replace

import onnx
import pytest
from onnx import numpy_helper

from droptrack.export import quantize
from droptrack.export.calibration import calibration_pairs
from droptrack.export.divergence import Evaluator
from droptrack.export.onnx import read_metadata
from droptrack.export.quantize import Int8Recipe, layer_groups, quantize_int8, takes_calibration
from helpers import cli

EXPORT = ("--int8", "--int8-target", "trt", "--calib-pairs", 8, "--auto-precision", "--val-sequences", 4,
          "--val-frames", 3, "--max-divergence", 0.25, "--group-by", "kind")


def _activation_scales(path) -> dict[str, float]:
    """The scale of every QuantizeLinear node (activations; weights are stored quantized), by its input tensor."""
    model = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return {n.input[0]: float(inits[n.input[1]]) for n in model.graph.node
            if n.op_type == "QuantizeLinear" and n.input[1] in inits and inits[n.input[1]].size == 1}


def _ort_calibrations(monkeypatch) -> list[str]:
    """Every ONNX Runtime calibrator made from now on (droptrack's own and quantize_static's), by model path."""
    calls: list[str] = []
    for name in ("onnxruntime.quantization.calibrate", "onnxruntime.quantization.quantize"):
        module = importlib.import_module(name)
        real = module.create_calibrator
        monkeypatch.setattr(module, "create_calibrator",
                            lambda *a, _real=real, **k: calls.append(str(a[0])) or _real(*a, **k))
    return calls


def _check_written(out, base: Int8Recipe, pairs, tmp_path, counts: list, before: int) -> None:
    """The graph the export wrote has the activation scales of the chosen recipe quantized on its own, with a fresh
    calibration (which adds one to `counts`)."""
    kept = tuple(json.loads((out / "auto_precision_trt.json").read_text())["kept"])
    written = next(p for p in (out / "model_int8_trt.onnx", out / "model_int8_trt.onnx.failed") if p.is_file())
    chosen = tmp_path / "chosen.onnx"
    quantize_int8(out / "model.onnx", chosen, read_metadata(out / "model.onnx"), pairs[0], pairs[1],
                  replace(base, keep=kept))
    assert len(counts) == before + 1
    expected = _activation_scales(chosen)
    assert expected and _activation_scales(written) == expected


@pytest.mark.slow
def test_a_search_calibrates_once_and_every_trial_uses_those_ranges(onnx_model, tiny_ckpt, tmp_path, monkeypatch):
    calls, ort = [], _ort_calibrations(monkeypatch)
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
    assert len(ort) == 1                               # and no minmax pass of the quantizer's own per trial
    alone = tmp_path / "alone.onnx"   # the all-INT8 recipe quantized on its own: its own calibration
    quantize_int8(onnx_model, alone, read_metadata(onnx_model), pairs[0], pairs[1], replace(base, keep=()))
    assert len(calls) == 2 and len(ort) == 2
    fresh = _activation_scales(alone)
    assert fresh and _activation_scales(trials[0]) == fresh
    for trial in trials[1:]:
        scales = _activation_scales(trial)
        assert scales and all(fresh[t] == s for t, s in scales.items())   # the kept groups only drop Q/DQ pairs

    calls.clear()   # the whole export: the search and the graph written after it share one calibration
    ort.clear()
    out = tmp_path / "export"
    r = cli("export", tiny_ckpt, *EXPORT, "--calib-method", "entropy", "-o", out)
    assert r.exit_code in (0, 2) and (out / "model.onnx").is_file(), r.output
    assert len(calls) == 1 and len(ort) == 1, r.output
    _check_written(out, base, pairs, tmp_path, ort, 1)


@pytest.mark.slow
@pytest.mark.skipif(not takes_calibration(), reason="this ONNX Runtime's quantize_static calibrates every graph")
@pytest.mark.parametrize("method", ["minmax", "percentile"])
def test_minmax_and_percentile_searches_calibrate_once(method, onnx_model, tiny_ckpt, tmp_path, monkeypatch):
    ort = _ort_calibrations(monkeypatch)
    pairs = calibration_pairs(read_metadata(onnx_model), None, 8)
    base = Int8Recipe(target="trt", method=method)
    work = tmp_path / "work"
    work.mkdir()
    ev = Evaluator(onnx_model, base, pairs, [], work, lambda s: None, reference={})
    groups = [g for g in layer_groups(onnx.load(str(ev.pre), load_external_data=False), "trt") if g != "other"]
    trials = [ev.path([]), ev.path(groups[:1]), ev.path(groups[1:2])]
    assert len(ort) == 1 and ev.calibrations == 1   # was one per trial graph: 3
    alone = tmp_path / "alone.onnx"   # quantize_static calibrating the all-INT8 recipe itself: the reference
    quantize_int8(onnx_model, alone, read_metadata(onnx_model), pairs[0], pairs[1], replace(base, keep=()))
    assert len(ort) == 2
    fresh = _activation_scales(alone)
    assert fresh and _activation_scales(trials[0]) == fresh
    for trial in trials[1:]:
        scales = _activation_scales(trial)
        assert scales and all(fresh[t] == s for t, s in scales.items())
    if method != "minmax":
        return
    ort.clear()   # the default method's whole export: one calibration for the search and the graph after it
    out = tmp_path / "export"
    r = cli("export", tiny_ckpt, *EXPORT, "-o", out)
    assert r.exit_code in (0, 2) and (out / "model.onnx").is_file(), r.output
    assert len(ort) == 1, r.output
    _check_written(out, base, pairs, tmp_path, ort, 1)
