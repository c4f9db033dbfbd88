"""TrackingNet devkit conventions (metrics.py of TrackingNet-devkit): rounding, >= thresholds, trapezoid areas.

Scores are fractions (the devkit prints them x100). 'precision' is the devkit's trapezoid area, not the value at
20 px; that value is `precision_at_20px`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from droptrack.errors import InputError
from droptrack.eval.boxes import as_boxes
from droptrack.wording import counted

TN_SUCCESS_THRESHOLDS = np.linspace(0, 1, 21)           # IoU >= t
TN_PRECISION_THRESHOLDS = np.linspace(0, 50, 21)        # pixels, error <= t; index 8 is 20 px
TN_NORM_PRECISION_THRESHOLDS = np.linspace(0, 0.5, 21)  # error <= t


def trapezoid(y: np.ndarray, x: np.ndarray = TN_SUCCESS_THRESHOLDS) -> float:
    """np.trapz(y, x) (the devkit integrates every curve over x = linspace(0, 1, 21))."""
    return float((np.diff(x) * (y[1:] + y[:-1]) / 2.0).sum())


@dataclass
class TrackingNetSequence:
    """Per-frame values of one sequence under the devkit's rules (NaN fails every threshold)."""

    name: str
    iou: np.ndarray
    distance: np.ndarray
    norm_distance: np.ndarray
    covered: np.ndarray   # bool: the devkit's sanity check (x + y + w + h > 0)


def trackingnet_sequence(pred: Any, gt: Any, name: str = "sequence") -> TrackingNetSequence:
    """One sequence: missing rows are NaN (fail), extra rows dropped, pred None = all-zero submission."""
    g = np.round(as_boxes(gt, "ground-truth boxes", name))  # numpy rounds half to even, like the devkit
    n = len(g)
    if pred is None:
        p = np.zeros((n, 4))
    else:
        p = as_boxes(pred, "predictions", name)[:n]
        p = np.vstack([p, np.full((n - len(p), 4), np.nan)])
    p = np.round(p)
    if n:
        p[0] = g[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        # pandas max/min over the two columns skip NaN, hence fmax/fmin
        x1, y1 = np.fmax(g[:, 0], p[:, 0]), np.fmax(g[:, 1], p[:, 1])
        x2 = np.fmin(g[:, 0] + g[:, 2] - 1.0, p[:, 0] + p[:, 2] - 1.0)
        y2 = np.fmin(g[:, 1] + g[:, 3] - 1.0, p[:, 1] + p[:, 3] - 1.0)
        inter = np.clip(np.round(x2 - x1 + 1), 0, None) * np.clip(np.round(y2 - y1 + 1), 0, None)
        iou = inter / (g[:, 2] * g[:, 3] + p[:, 2] * p[:, 3] - inter)
        dx = (g[:, 0] + (g[:, 2] + 1.0) / 2.0) - (p[:, 0] + (p[:, 2] + 1.0) / 2.0)
        dy = (g[:, 1] + (g[:, 3] + 1.0) / 2.0) - (p[:, 1] + (p[:, 3] + 1.0) / 2.0)
        dist = np.sqrt(dx * dx + dy * dy)
        ndist = np.sqrt(dx / g[:, 2] * dx / g[:, 2] + dy / g[:, 3] * dy / g[:, 3])
        covered = (p[:, 3] + p[:, 2] + p[:, 0] + p[:, 1]) > 0
    return TrackingNetSequence(name, iou, dist, ndist, covered)


@dataclass
class TrackingNetResult:
    """TrackingNet devkit scores (fractions): trapezoid areas of the mean curves, plus per-sequence curves."""

    protocol: str                     # 'trackingnet-devkit'
    success: float                    # trapezoid area of the success curve (IoU >= t); perfect tracker = 1.0
    precision: float                  # trapezoid area of the 21-point precision curve (0 ... 50 px)
    norm_precision: float             # trapezoid area of the 21-point normalised precision curve (0 ... 0.5)
    precision_at_20px: float          # precision curve at 20 px (index 8)
    coverage: float                   # fraction of all frames with a non-zero submitted box
    names: list[str]
    success_curve: np.ndarray         # (21,)
    precision_curve: np.ndarray       # (21,)
    norm_precision_curve: np.ndarray  # (21,)
    seq_success: np.ndarray           # (S, 21)
    seq_precision: np.ndarray         # (S, 21)
    seq_norm_precision: np.ndarray    # (S, 21)
    success_thresholds: np.ndarray = field(default_factory=lambda: TN_SUCCESS_THRESHOLDS.copy())
    precision_thresholds: np.ndarray = field(default_factory=lambda: TN_PRECISION_THRESHOLDS.copy())
    norm_precision_thresholds: np.ndarray = field(default_factory=lambda: TN_NORM_PRECISION_THRESHOLDS.copy())

    def scores(self) -> dict[str, float]:
        """The scalar scores by name."""
        return {"success": self.success, "precision": self.precision, "norm_precision": self.norm_precision,
                "precision_at_20px": self.precision_at_20px, "coverage": self.coverage}

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(thresholds, values) of every averaged curve."""
        return {"success": (self.success_thresholds, self.success_curve),
                "precision": (self.precision_thresholds, self.precision_curve),
                "norm_precision": (self.norm_precision_thresholds, self.norm_precision_curve)}

    def per_sequence(self) -> dict[str, dict[str, float]]:
        """Scalar scores of each sequence."""
        return {n: {"success": trapezoid(self.seq_success[i]), "precision": trapezoid(self.seq_precision[i]),
                    "norm_precision": trapezoid(self.seq_norm_precision[i]),
                    "precision_at_20px": float(self.seq_precision[i, 8])} for i, n in enumerate(self.names)}


def _rate(v: np.ndarray, thresholds: np.ndarray, at_least: bool) -> np.ndarray:
    """Fraction of all frames with v >= t (at_least) or v <= t; NaN fails both."""
    hits = v[:, None] >= thresholds[None, :] if at_least else v[:, None] <= thresholds[None, :]
    return hits.sum(0) / max(len(v), 1)


def trackingnet_aggregate(seqs: Sequence[TrackingNetSequence]) -> TrackingNetResult:
    """Per-sequence curves, unweighted mean over sequences, trapezoid areas over x in [0, 1]."""
    if not seqs:
        raise InputError("no sequence to score; check that the result folder matches the dataset")
    succ = np.stack([_rate(s.iou, TN_SUCCESS_THRESHOLDS, True) for s in seqs])
    prec = np.stack([_rate(s.distance, TN_PRECISION_THRESHOLDS, False) for s in seqs])
    nprec = np.stack([_rate(s.norm_distance, TN_NORM_PRECISION_THRESHOLDS, False) for s in seqs])
    sc, pc, nc = succ.mean(0), prec.mean(0), nprec.mean(0)
    covered = np.concatenate([s.covered for s in seqs])
    return TrackingNetResult(protocol="trackingnet-devkit", success=trapezoid(sc), precision=trapezoid(pc),
                             norm_precision=trapezoid(nc), precision_at_20px=float(pc[8]),
                             coverage=float(covered.mean()) if len(covered) else float("nan"),
                             names=[s.name for s in seqs], success_curve=sc, precision_curve=pc,
                             norm_precision_curve=nc, seq_success=succ, seq_precision=prec, seq_norm_precision=nprec)


def trackingnet_metrics(preds: Sequence[Any], gts: Sequence[Any],
                        names: Sequence[str] | None = None) -> TrackingNetResult:
    """TrackingNet devkit scores of one tracker (preds[i] None = missing result file, scored as zeros)."""
    if len(preds) != len(gts):
        raise InputError(f"{counted(len(preds), 'prediction entry', 'prediction entries')} for "
                         f"{counted(len(gts), 'sequence')}; pass one per sequence")
    names = list(names) if names is not None else [f"seq{i}" for i in range(len(gts))]
    return trackingnet_aggregate([trackingnet_sequence(p, g, n) for p, g, n in zip(preds, gts, names)])
