"""Benchmark metrics, each matching its own toolkit; this module implements OSTrack's (pytracking) OPE analysis.

All scores are fractions in [0, 1] (the toolkits print them x100); per-frame arrays are float64 (pytracking keeps
its per-sequence curves in float32, a difference below 1e-7). GOT-10k AO/SR are in `metrics_got10k.py` and the
TrackingNet devkit in `metrics_trackingnet.py`; both are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from droptrack.errors import DatasetError, InputError
from droptrack.eval.boxes import as_boxes
from droptrack.eval.metrics_got10k import (GOT10kResult, GOT10kSequence, got10k_aggregate, got10k_metrics,
                                           got10k_sequence, nan_box_frame, rect_iou_got10k)
from droptrack.eval.metrics_trackingnet import (TrackingNetResult, TrackingNetSequence, trackingnet_aggregate,
                                                trackingnet_metrics, trackingnet_sequence)
from droptrack.wording import counted

__all__ = ["OPEResult", "OPESequence", "ope_sequence", "ope_aggregate", "ope_metrics", "iou_pixel", "center_error",
           "replace_zero_size", "GOT10kResult", "GOT10kSequence", "got10k_sequence", "got10k_aggregate",
           "got10k_metrics", "nan_box_frame", "rect_iou_got10k", "TrackingNetResult", "TrackingNetSequence", "trackingnet_sequence",
           "trackingnet_aggregate", "trackingnet_metrics", "SUCCESS_THRESHOLDS", "PRECISION_THRESHOLDS",
           "NORM_PRECISION_THRESHOLDS", "OPE_TAGS", "protocol_for_tag"]

# torch.arange(0.0, 1.05, 0.05, dtype=float64) bit for bit: i * 0.05, except that torch yields
# 0.6500000000000001 and 0.7500000000000001 at indices 13 and 15 (one ulp above i * 0.05).
SUCCESS_THRESHOLDS = np.arange(21) * 0.05
SUCCESS_THRESHOLDS[[13, 15]] = np.nextafter(SUCCESS_THRESHOLDS[[13, 15]], 1.0)
PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64)               # pixels, error <= t
NORM_PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64) / 100.0  # 0.00 ... 0.50, error <= t

# Tags understood by the OPE path. Only 'lasot' and 'uav' change the scoring (as in pytracking);
# 'lasot_extension_subset' (and any tag given visibility flags) only marks invisible frames invalid.
OPE_TAGS = ("lasot", "lasot_extension_subset", "otb", "uav", "nfs", "tnl2k", "generic", "synth", "video", "folder",
            "tc128", "itb", "avist", "got10k", "trackingnet")
VALIDITY_RULES = {"ostrack": "ostrack-ope", "pytracking": "pytracking-ope"}
# Tags whose ground truth may hold NaN rows: UAV123 (pytracking's 'uav' rule) and one's own footage (the folder, video
# and synth readers), whose box files mark an absent target with NaN,NaN,NaN,NaN as with 0,0,0,0 (README): such a
# frame is invalid, as a 0,0,0,0 row's (IoU -1, centre error +inf). Every benchmark's tag refuses NaN, as pytracking.
NAN_GT_TAGS = ("uav", "folder", "video", "synth")


def check_tag(tag: str) -> str:
    """Return tag if the OPE path knows it, else InputError listing the known tags."""
    if tag not in OPE_TAGS:
        raise InputError(f"unknown dataset tag {tag!r}; use one of {', '.join(OPE_TAGS)} "
                         "('generic' applies no dataset-specific rule)")
    return tag


def protocol_for_tag(tag: str) -> str:
    """Default protocol of a dataset tag: got10k* -> GOT-10k toolkit, trackingnet* -> devkit, else OSTrack OPE."""
    if tag.startswith("got10k"):
        return "got10k-toolkit"
    if tag.startswith("trackingnet"):
        return "trackingnet-devkit"
    check_tag(tag)
    return "ostrack-ope"


def iou_pixel(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """pytracking calc_iou_overlap: pixel-inclusive corners, no epsilon, no clipping. An inf box gives NaN without a
    numpy warning: the scoring rules name such a frame themselves ('NaN overlap on a valid frame')."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tl = np.maximum(pred[:, :2], gt[:, :2])
        br = np.minimum(pred[:, :2] + pred[:, 2:] - 1.0, gt[:, :2] + gt[:, 2:] - 1.0)
        sz = np.clip(br - tl + 1.0, 0.0, None)
        inter = sz[:, 0] * sz[:, 1]
        union = pred[:, 2] * pred[:, 3] + gt[:, 2] * gt[:, 3] - inter
        return inter / union


def center_error(pred: np.ndarray, gt: np.ndarray, normalized: bool = False) -> np.ndarray:
    """pytracking calc_err_center (normalized: each centre divided by the GT size before subtracting)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # an inf box: NaN, named by the scoring rules
        pc = pred[:, :2] + 0.5 * (pred[:, 2:] - 1.0)
        gc = gt[:, :2] + 0.5 * (gt[:, 2:] - 1.0)
        if normalized:
            pc = pc / gt[:, 2:]
            gc = gc / gt[:, 2:]
        return np.sqrt(((pc - gc) ** 2).sum(1))


def replace_zero_size(pred: np.ndarray, gt_nan: np.ndarray) -> np.ndarray:
    """pytracking rule: for i >= 1, a w==0 or h==0 row becomes the (already processed) row i-1 unless GT row i has NaN.

    Runs before the frame-0 override and before padding, so a raw zero box at frame 0 propagates.
    Rows beyond the GT length are left alone (they are truncated afterwards; pytracking would crash there).
    """
    m = min(len(pred), len(gt_nan))
    replace = (pred[:m, 2:] == 0.0).any(1) & ~gt_nan[:m]
    if m == 0 or not replace[1:].any():
        return pred
    replace[0] = False
    src = np.maximum.accumulate(np.where(replace, 0, np.arange(m)))
    out = pred.copy()
    out[:m] = pred[src]
    return out


@dataclass
class OPESequence:
    """Per-frame errors of one sequence after pytracking's processing (invalid frames already coded)."""

    name: str
    iou: np.ndarray                 # -1 on invalid frames
    center_error: np.ndarray        # +inf on invalid frames (-1 under 'uav'); +inf on invisible 'lasot' frames
    norm_center_error: np.ndarray   # -1 on invalid frames; +inf on invisible 'lasot' frames
    valid: np.ndarray               # bool


def ope_sequence(pred: Any, gt: Any, tag: str = "generic", visible: Any = None, name: str = "sequence",
                 validity: str = "ostrack") -> OPESequence:
    """Score one sequence like OSTrack's calc_seq_err_robust (validity 'pytracking' = all four GT numbers > 0)."""
    check_tag(tag)
    if validity not in VALIDITY_RULES:
        raise InputError(f"unknown validity rule {validity!r}; use 'ostrack' (w, h > 0) "
                         "or 'pytracking' (x, y, w, h > 0)")
    pred, gt = as_boxes(pred, "predictions", name), as_boxes(gt, "ground-truth boxes", name)
    n = len(gt)
    if n == 0:
        raise DatasetError(f"{name}: the ground truth has no frames; check the dataset's annotation file")
    bad = np.isnan(pred).any(1) | (pred[:, 2:] < 0.0).any(1)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{name}: the prediction for frame {i} (line {i + 1} of a result file) has NaN or a negative "
                         "width/height (OSTrack/pytracking reject such results); fix the tracker output and re-run "
                         "the sequence")
    gt_nan = np.isnan(gt).any(1)
    if gt_nan.any() and tag not in NAN_GT_TAGS:
        raise DatasetError(f"{name}: ground-truth row {int(np.argmax(gt_nan))} has NaN, which OSTrack's and "
                           f"pytracking's analysis refuse on {tag} (only {', '.join(NAN_GT_TAGS)} allow it); fix "
                           "the annotation")   # (no option of dt eval or dt analyze sets another tag)
    pred = replace_zero_size(pred, gt_nan)
    if len(pred) > n:
        pred = pred[:n]
    elif len(pred) < n:
        if tag == "lasot":
            raise InputError(f"{name}: {counted(len(pred), 'prediction')} for {counted(n, 'frame')} (tag 'lasot' "
                             "requires every frame); "
                             "re-run the tracker on the whole sequence")
        pred = np.vstack([pred, np.zeros((n - len(pred), 4))])
    pred[0] = gt[0]
    with np.errstate(invalid="ignore"):
        valid = (gt[:, 2] > 0.0) & (gt[:, 3] > 0.0)
        if validity == "pytracking":
            valid &= (gt[:, 0] > 0.0) & (gt[:, 1] > 0.0)
    vis = None
    if visible is not None:
        vis = np.asarray(visible).astype(bool).reshape(-1)
        if len(vis) != n:
            raise DatasetError(f"{name}: {len(vis)} visibility flags for {n} ground-truth rows; "
                               "the occlusion/out-of-view files must have one entry per frame")
        valid &= vis
    iou, ce, nce = iou_pixel(pred, gt), center_error(pred, gt), center_error(pred, gt, normalized=True)
    ce[~valid] = -1.0 if tag == "uav" else np.inf
    nce[~valid] = -1.0
    iou[~valid] = -1.0
    if tag == "lasot" and vis is not None:
        nce[~vis] = np.inf
        ce[~vis] = np.inf
    if np.isnan(iou).any():
        raise InputError(f"{name}: NaN overlap on a valid frame; check the boxes for inf values")
    return OPESequence(name, iou, ce, nce, valid)


def _curve(err: np.ndarray, thresholds: np.ndarray, above: bool) -> np.ndarray:
    """Fraction of all frames with err > t (above) or err <= t, for every threshold."""
    hits = err[:, None] > thresholds[None, :] if above else err[:, None] <= thresholds[None, :]
    return hits.sum(0) / len(err)


@dataclass
class OPEResult:
    """OSTrack/pytracking OPE scores (fractions), the averaged curves and per-sequence values."""

    protocol: str                     # 'ostrack-ope' (validity w, h > 0) or 'pytracking-ope' (all four > 0)
    tag: str
    auc: float                        # mean of the 21-point success curve (strict IoU > t)
    precision: float                  # precision curve at 20 px (error <= t)
    norm_precision: float             # normalised precision curve at 0.20
    op50: float                       # success curve at t = 0.50
    op75: float                       # success curve at t = 0.75
    names: list[str]
    success_curve: np.ndarray         # (21,) mean over sequences
    precision_curve: np.ndarray       # (51,)
    norm_precision_curve: np.ndarray  # (51,)
    seq_success: np.ndarray           # (S, 21)
    seq_precision: np.ndarray         # (S, 51)
    seq_norm_precision: np.ndarray    # (S, 51)
    seq_avg_overlap: np.ndarray       # (S,) mean IoU over valid frames (pytracking avg_overlap_all)
    success_thresholds: np.ndarray = field(default_factory=lambda: SUCCESS_THRESHOLDS.copy())
    precision_thresholds: np.ndarray = field(default_factory=lambda: PRECISION_THRESHOLDS.copy())
    norm_precision_thresholds: np.ndarray = field(default_factory=lambda: NORM_PRECISION_THRESHOLDS.copy())

    def scores(self) -> dict[str, float]:
        """The scalar scores by name."""
        return {"auc": self.auc, "precision": self.precision, "norm_precision": self.norm_precision,
                "op50": self.op50, "op75": self.op75}

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(thresholds, values) of every averaged curve."""
        return {"success": (self.success_thresholds, self.success_curve),
                "precision": (self.precision_thresholds, self.precision_curve),
                "norm_precision": (self.norm_precision_thresholds, self.norm_precision_curve)}

    def per_sequence(self) -> dict[str, dict[str, float]]:
        """Scalar scores of each sequence."""
        return {n: {"auc": float(self.seq_success[i].mean()), "precision": float(self.seq_precision[i, 20]),
                    "norm_precision": float(self.seq_norm_precision[i, 20]), "op50": float(self.seq_success[i, 10]),
                    "op75": float(self.seq_success[i, 15]), "avg_overlap_valid_frames": float(self.seq_avg_overlap[i])}
                for i, n in enumerate(self.names)}


def ope_aggregate(seqs: Sequence[OPESequence], tag: str, validity: str = "ostrack") -> OPEResult:
    """Per-sequence curves (denominator = all frames), unweighted mean over sequences, scores read off the mean."""
    if not seqs:
        raise InputError("no sequence to score; check that the result folder matches the dataset")
    succ = np.stack([_curve(s.iou, SUCCESS_THRESHOLDS, True) for s in seqs])
    prec = np.stack([_curve(s.center_error, PRECISION_THRESHOLDS, False) for s in seqs])
    nprec = np.stack([_curve(s.norm_center_error, NORM_PRECISION_THRESHOLDS, False) for s in seqs])
    avg = np.array([s.iou[s.valid].mean() if s.valid.any() else np.nan for s in seqs])
    sc, pc, nc = succ.mean(0), prec.mean(0), nprec.mean(0)
    return OPEResult(protocol=VALIDITY_RULES[validity], tag=tag, auc=float(sc.mean()), precision=float(pc[20]),
                     norm_precision=float(nc[20]), op50=float(sc[10]), op75=float(sc[15]),
                     names=[s.name for s in seqs], success_curve=sc, precision_curve=pc, norm_precision_curve=nc,
                     seq_success=succ, seq_precision=prec, seq_norm_precision=nprec, seq_avg_overlap=avg)


def ope_metrics(preds: Sequence[Any], gts: Sequence[Any], tag: str = "generic",
                visible: Sequence[Any] | None = None, names: Sequence[str] | None = None,
                validity: str = "ostrack") -> OPEResult:
    """OSTrack's OPE analysis of one tracker over sequences (lists aligned by index)."""
    if len(preds) != len(gts):
        raise InputError(f"{counted(len(preds), 'prediction array')} for {counted(len(gts), 'sequence')}; "
                         "pass one per sequence")
    names = list(names) if names is not None else [f"seq{i}" for i in range(len(gts))]
    vis = list(visible) if visible is not None else [None] * len(gts)
    seqs = [ope_sequence(p, g, tag, v, n, validity) for p, g, v, n in zip(preds, gts, vis, names)]
    return ope_aggregate(seqs, tag, validity)

