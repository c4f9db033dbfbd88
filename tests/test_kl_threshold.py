"""Entropy calibration's thresholds (droptrack.export.kl_threshold) are ONNX Runtime's, bit for bit.

The reference is ORT's own HistogramCollector: it collects each histogram (symmetric, as `dt export --calib-method
entropy` asks) and its `get_entropy_threshold` picks the window; ours must return the very same two numbers, in
the histogram's dtype, on activation-like value sets: a Gaussian bulk, a Gaussian with rare large outliers (the
case entropy exists for: it clips them), a one-sided GELU-like set, a spiky multimodal one, batches whose range
grows (ORT widens the histogram past its bin count), a sparse one (counts of a few per bin) and FP16 values.
"""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.export.kl_threshold import kl_threshold, kl_thresholds, layout

onnxruntime_calibrate = pytest.importorskip("onnxruntime.quantization.calibrate")


def _values(kind: str, rng: np.random.Generator, n: int = 20000) -> list[np.ndarray]:
    """Calibration batches of one activation (float32 unless the kind says FP16)."""
    if kind == "gauss":
        return [rng.standard_normal(n).astype(np.float32)]
    if kind == "outliers":
        x = rng.standard_normal(n).astype(np.float32)
        x[rng.choice(n, 5, replace=False)] = rng.choice([-1, 1], 5) * rng.uniform(20, 60, 5)
        return [x]
    if kind == "gelu":
        x = rng.standard_normal(n) * 2
        return [(0.5 * x * (1 + np.tanh(0.79788456 * (x + 0.044715 * x ** 3)))).astype(np.float32)]
    if kind == "spikes":
        centres = rng.choice([-3.0, 0.0, 0.5, 4.0], n, p=[0.1, 0.6, 0.2, 0.1])
        return [(centres + 0.05 * rng.standard_normal(n)).astype(np.float32)]
    if kind == "growing":   # each batch wider than the last: the histogram gains bins on both sides
        return [(rng.standard_normal(n // 4) * s).astype(np.float32) for s in (1.0, 1.7, 3.1, 2.0)]
    if kind == "sparse":   # few values over many bins: counts of 0-3, where whole-count truncation matters
        return [rng.laplace(0, 1, 1500).astype(np.float32)]
    if kind == "fp16":
        return [(rng.standard_normal(n) * 0.3).astype(np.float16)]
    raise ValueError(kind)


def _collected(kinds: list[str], bins: int) -> tuple[object, dict]:
    """ORT's collector after seeing every kind's batches (one tensor per kind)."""
    collector = onnxruntime_calibrate.HistogramCollector("entropy", True, bins, 128, 99.99, "same")
    rng = np.random.default_rng(7)
    batches = {kind: _values(kind, rng) for kind in kinds}
    for step in range(max(len(b) for b in batches.values())):
        collector.collect({kind: [b[step]] for kind, b in batches.items() if step < len(b)})
    return collector, collector.histogram_dict


@pytest.mark.parametrize("bins", [512, 2048])
def test_thresholds_equal_onnxruntime_bit_for_bit(bins):
    """Every tensor's (low, high) equals ORT's get_entropy_threshold exactly, dtype included."""
    kinds = ["gauss", "outliers", "gelu", "spikes", "growing", "sparse", "fp16"] if bins == 512 \
        else ["outliers", "gelu", "sparse"]
    collector, histograms = _collected(kinds, bins)
    if "growing" in histograms:
        assert histograms["growing"][0].size > bins   # ORT widened that histogram
    ours = kl_thresholds(histograms, 128)
    for name, histogram in histograms.items():
        ref = collector.get_entropy_threshold(histogram, 128)
        assert (ours[name][0], ours[name][1]) == (ref[0], ref[1]), (name, ours[name], ref)
        assert np.asarray(ours[name][0]).dtype == np.asarray(ref[0]).dtype, name


def test_windows_in_many_batches_give_the_same_thresholds():
    """A widened histogram's windows split into batches (as a very wide one is, to bound memory) pick ORT's window."""
    collector, histograms = _collected(["growing", "sparse"], 512)
    for name, histogram in histograms.items():
        batches = layout(histogram[0].size, 128, chunk=5000)
        assert len(batches) > 10
        ours = kl_threshold(*histogram[:4], 128, batches)
        ref = collector.get_entropy_threshold(histogram, 128)
        assert (ours[0], ours[1]) == (ref[0], ref[1]), name


def test_outliers_are_clipped_and_a_clean_set_is_not():
    """What the method is for, on the same histograms: five outliers of 20-60 sigma are left outside the range
    (a few sigma), while the values without outliers keep nearly their whole range."""
    _, histograms = _collected(["gauss", "outliers"], 2048)
    low, high = kl_threshold(*histograms["outliers"][:4])
    assert 2 < high < 12 and -12 < low < -2, (low, high)
    lowest, highest = histograms["gauss"][2:4]
    low, high = kl_threshold(*histograms["gauss"][:4])
    assert high >= 0.75 * highest and low <= 0.75 * lowest, (low, high, lowest, highest)
