"""Entropy (KL) calibration thresholds, as ONNX Runtime's HistogramCollector computes them, in NumPy.

TensorRT's entropy calibrator (GTC 2017, "8-bit inference with TensorRT") picks, for each activation, the histogram
window whose quantization into `num_quantized_bins` bins loses the least information (KL divergence). ONNX
Runtime's `get_entropy_threshold` does it with Python loops and Python `sum` over NumPy arrays: about 0.7 s per
tensor at 2048 bins, 64 s of a 67 s `dt export --int8 --calib-method entropy` of the tiny test model, minutes for
ViT-B. Here every window is the same arithmetic (integer counts exact, float32 steps in the same order, each sum over
the same 1-D array), so the thresholds are ONNX Runtime's bit for bit (tests/test_kl_threshold.py) in a fraction of
the time (benchmarks/results/kl_threshold.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 0.0001   # ORT's smoothing constant (smooth_distribution's eps)
CHUNK = 1 << 21  # histogram bins laid end to end per batch of windows: ~16 MB per int64 array, whatever the
# histogram's size (ORT widens a histogram whose range grows: 8192 bins would be 16M bins in one batch)


def _row_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """float32 sum of each window's stretch of the flat array, as np.sum of that 1-D array (pairwise: ORT's order)."""
    add, bounds = np.add.reduce, offsets.tolist()
    return np.array([add(values[a:b]) for a, b in zip(bounds[:-1], bounds[1:])], dtype=values.dtype)


@dataclass(frozen=True)
class Windows:
    """Where every candidate window of an n-bin histogram lies in the flat arrays (the same for every tensor with
    n bins, so a calibration builds it once): window k is hist[starts[k]:ends[k]], at offsets[k]:offsets[k+1]."""

    n: int
    bins: int
    starts: np.ndarray
    ends: np.ndarray
    offsets: np.ndarray
    row: np.ndarray       # window of each flat element
    source: np.ndarray    # histogram bin of each flat element
    bounds: np.ndarray    # (windows, bins + 1) flat edges of each window's quantized bins
    spread_at: np.ndarray  # flat index into the (windows, bins) spread counts of each flat element
    in_bins: np.ndarray   # whether the element lies in a quantized bin (the remainder past bins * merged does not)

    @classmethod
    def of(cls, n: int, bins: int, half_widths: np.ndarray) -> Windows:
        """The windows of these half-widths, centred on bin n // 2 as ORT's (the widest cut at the end)."""
        zero = n // 2
        starts, ends = zero - half_widths, np.minimum(zero + half_widths + 1, n)
        lengths = ends - starts
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        row = np.repeat(np.arange(lengths.size), lengths)
        col = np.arange(offsets[-1]) - offsets[row]
        merged = lengths // bins
        bounds = offsets[:-1, None] + np.arange(bins + 1)[None, :] * merged[:, None]
        group = col // merged[row]
        return cls(n, bins, starts, ends, offsets, row, starts[row] + col, bounds,
                   row * bins + np.minimum(group, bins - 1), group < bins)


def layout(n: int, bins: int, chunk: int = CHUNK) -> list[Windows]:
    """ORT's candidate windows of an n-bin histogram (half-widths bins // 2 .. n // 2), in batches of about `chunk`
    bins laid end to end."""
    half_widths = np.arange(bins // 2, n // 2 + 1)
    sizes = np.cumsum(np.minimum(2 * half_widths + 1, n))
    batch = sizes // chunk
    return [Windows.of(n, bins, half_widths[batch == b]) for b in np.unique(batch)]


def _smoothed(counts: np.ndarray, w: Windows) -> tuple[np.ndarray, np.ndarray]:
    """The windows' counts as float32 distributions, each empty bin given EPS taken evenly off the window's other
    bins (ORT's smooth_distribution), and whether each window had any count (else ORT's divergence is inf)."""
    empty = counts == 0
    n_empty = np.add.reduceat(empty.astype(np.int64), w.offsets[:-1])
    n_full = np.diff(w.offsets) - n_empty
    take = (EPS * n_empty.astype(np.float64) / np.maximum(n_full, 1).astype(np.float64)).astype(np.float32)
    return counts.astype(np.float32) + np.where(empty, np.float32(EPS), -take[w.row]), n_full > 0


def _cumulative(values: np.ndarray) -> np.ndarray:
    """Running int64 sums with a leading 0 (a sum over [a, b) is c[b] - c[a], exact)."""
    return np.concatenate(([0], np.cumsum(values, dtype=np.int64)))


def divergences(hist: np.ndarray, w: Windows) -> np.ndarray:
    """float32 KL divergence of every window of `hist` (outliers folded into its end bins) from its quantization into
    `w.bins` bins expanded back (each quantized bin spread evenly over the window's non-empty bins it covers,
    truncated to whole counts); ORT's get_entropy_threshold does one window at a time, here they lie end to end."""
    below = _cumulative(hist)
    window = hist[w.source]
    p = window.copy()
    p[w.offsets[:-1]] += below[w.starts]
    p[w.offsets[1:] - 1] += below[-1] - below[w.ends]
    counted = _cumulative(window)
    quantized = np.diff(counted[w.bounds], axis=1)
    quantized[:, -1] += counted[w.offsets[1:]] - counted[w.bounds[:, -1]]
    filled = np.diff(_cumulative(p != 0)[w.bounds], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(filled > 0, quantized / np.maximum(filled, 1), 0.0).astype(np.int64)
    q = np.where(w.in_bins, spread.ravel()[w.spread_at], 0)
    ps, p_any = _smoothed(p, w)
    qs, q_any = _smoothed(q, w)
    pk = ps / _row_sums(ps, w.offsets)[w.row]
    qk = qs / _row_sums(qs, w.offsets)[w.row]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        terms = pk * np.log(pk / qk)
    terms = np.where((pk > 0) & (qk > 0), terms, np.float32(np.inf))
    return np.where(p_any & q_any, _row_sums(terms, w.offsets), np.float32(np.inf))


def kl_threshold(hist: np.ndarray, edges: np.ndarray, lowest, highest, num_quantized_bins: int = 128,
                 windows: list[Windows] | None = None) -> tuple:
    """(low, high) range of the histogram window with the least KL divergence, clipped to the values seen (`windows`:
    the layout of this bin count, when a caller thresholds many histograms of one size)."""
    hist = np.asarray(hist, dtype=np.int64)
    if not windows or windows[0].n != hist.size or windows[0].bins != num_quantized_bins:
        windows = layout(hist.size, num_quantized_bins)
    divergence = np.concatenate([divergences(hist, w) for w in windows])
    best = int(np.argmin(divergence.astype(edges.dtype).astype(np.float64)))
    starts, ends = np.concatenate([w.starts for w in windows]), np.concatenate([w.ends for w in windows])
    low, high = edges[starts[best]], edges[ends[best]]
    if low < lowest:
        low = lowest
    if high > highest:
        high = highest
    return low, high


def kl_thresholds(histograms: dict, num_quantized_bins: int = 128) -> dict:
    """{tensor: (low, high)} of ORT HistogramCollector's {tensor: (hist, edges, lowest, highest, ...)}."""
    layouts: dict[int, list[Windows]] = {}
    out = {}
    for name, (hist, edges, lowest, highest, *_) in histograms.items():
        n = np.asarray(hist).size
        if n not in layouts:
            layouts[n] = layout(n, num_quantized_bins)
        out[name] = kl_threshold(hist, edges, lowest, highest, num_quantized_bins, layouts[n])
    return out
