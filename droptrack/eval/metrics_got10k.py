"""GOT-10k toolkit AO / SR0.50 / SR0.75 (ExperimentGOT10k.report, val protocol); scores are fractions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from droptrack.errors import DatasetError, InputError
from droptrack.eval.boxes import as_boxes, mean_or_nan
from droptrack.wording import counted

GOT10K_THRESHOLDS = np.linspace(0, 1, 101)


def rect_iou_got10k(a: np.ndarray, b: np.ndarray, bound: tuple[float, float] | None = None) -> np.ndarray:
    """got10k rect_iou: optional clip to the image (x, y clamped, then w, h cropped), no +1, eps, clip to [0, 1]."""
    boxes = []
    for r in (a, b):
        r = r.copy()
        if bound is not None:
            r[:, 0] = np.clip(r[:, 0], 0, bound[0])
            r[:, 1] = np.clip(r[:, 1], 0, bound[1])
            r[:, 2] = np.clip(r[:, 2], 0, bound[0] - r[:, 0])
            r[:, 3] = np.clip(r[:, 3], 0, bound[1] - r[:, 1])
        boxes.append(r)
    a, b = boxes
    iw = np.maximum(np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0)
    ih = np.maximum(np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0)
    inter = iw * ih
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)


@dataclass
class GOT10kSequence:
    """IoUs of the frames the GOT-10k toolkit uses (frames 1..N-1 with cover > 0), all repetitions concatenated."""

    name: str
    ious: np.ndarray
    repetitions: int


def got10k_sequence(preds: Any, gt: Any, cover: Any = None, image_size: tuple[float, float] | None = None,
                    name: str = "sequence") -> GOT10kSequence:
    """One sequence as ExperimentGOT10k.report does (preds: one (N, 4) array or a list of repetitions)."""
    gt = as_boxes(gt, "ground-truth boxes", name)
    reps = [preds] if np.ndim(preds) == 2 else list(preds)
    reps = [as_boxes(p, "predictions", name) for p in reps]
    for p in reps:
        if p.shape != gt.shape:
            raise InputError(f"{name}: predictions have {counted(len(p), 'row')} for {counted(len(gt), 'frame')} "
                             "(the GOT-10k toolkit "
                             "requires identical shapes); re-run the tracker on the whole sequence")
    keep = np.ones(max(len(gt) - 1, 0), bool)
    if cover is not None:
        cover = np.asarray(cover).reshape(-1)
        if len(cover) != len(gt):
            raise DatasetError(f"{name}: {len(cover)} cover labels for {len(gt)} frames; check cover.label")
        keep = cover[1:] > 0
    bound = None if image_size is None else (float(image_size[0]), float(image_size[1]))
    ious = [rect_iou_got10k(p[1:], gt[1:], bound)[keep] for p in reps]
    _check_nan(reps, gt, keep, name)
    return GOT10kSequence(name, np.concatenate(ious) if ious else np.zeros(0), len(reps))


def _check_nan(reps: list[np.ndarray], gt: np.ndarray, keep: np.ndarray, name: str) -> None:
    """A NaN ground-truth box on a frame the toolkit scores makes every AO NaN: refuse it naming the frame; NaN on
    frame 0 or on a cover-0 frame is ignored, as the toolkit never reads those rows. A NaN predicted box is scored
    as the toolkit scores it (metrics.md 3.2, 2.6): its rect_iou is NaN, which makes the sequence's AO and the pooled
    AO NaN (null in report.json) and passes no SR threshold (NaN > t is false); it was refused, and the sequence
    left out of every tracker's averages, where the toolkit reports AO NaN."""
    used = np.flatnonzero(keep) + 1
    bad_gt = used[np.isnan(gt[used]).any(1)]
    if len(bad_gt):
        raise DatasetError(f"{name}: ground-truth row {bad_gt[0]} has NaN on a frame with cover > 0 (the GOT-10k "
                           "toolkit's AO would be NaN); fix groundtruth.txt or set that frame's cover label to 0")


def nan_box_frame(reps: Sequence[np.ndarray], cover: Any = None) -> tuple[int, int] | None:
    """(repetition from 1, frame) of the first NaN predicted box on a frame the GOT-10k toolkit scores (frames 1..N-1
    with cover > 0), whose IoU, and so the AO, is NaN; None when there is none."""
    for r, p in enumerate(reps, 1):
        used = np.isnan(np.asarray(p, dtype=np.float64)).any(1)
        used[:1] = False
        if cover is not None:
            used &= np.asarray(cover).reshape(-1)[:len(used)] > 0
        if used.any():
            return r, int(np.argmax(used))
    return None


@dataclass
class GOT10kResult:
    """GOT-10k AO / SR (fractions) over all used frames of all sequences pooled, plus per-sequence values."""

    protocol: str                 # 'got10k-toolkit'
    ao: float                     # mean IoU of all pooled frames
    sr50: float                   # fraction with IoU > 0.5
    sr75: float                   # 101-point curve at index 75 (IoU > 0.75)
    names: list[str]
    success_curve: np.ndarray     # (101,) pooled, IoU > t
    seq_ao: np.ndarray            # (S,) NaN where a sequence has no used frame
    seq_sr50: np.ndarray
    seq_sr75: np.ndarray
    seq_frames: np.ndarray        # (S,) used frames (x repetitions)
    success_thresholds: np.ndarray = field(default_factory=lambda: GOT10K_THRESHOLDS.copy())

    def scores(self) -> dict[str, float]:
        """The scalar scores by name."""
        return {"ao": self.ao, "sr50": self.sr50, "sr75": self.sr75}

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(thresholds, values) of the pooled success curve."""
        return {"success": (self.success_thresholds, self.success_curve)}

    def per_sequence(self) -> dict[str, dict[str, float]]:
        """Scalar scores of each sequence."""
        return {n: {"ao": float(self.seq_ao[i]), "sr50": float(self.seq_sr50[i]), "sr75": float(self.seq_sr75[i]),
                    "frames": int(self.seq_frames[i])} for i, n in enumerate(self.names)}


def got10k_aggregate(seqs: Sequence[GOT10kSequence]) -> GOT10kResult:
    """Pool every used frame of every sequence (frame-weighted, not a mean over sequences)."""
    if not seqs:
        raise InputError("no sequence to score; check that the result folder matches the dataset")
    t50, t75 = GOT10K_THRESHOLDS[50], GOT10K_THRESHOLDS[75]
    ious = np.concatenate([s.ious for s in seqs])
    curve = (ious[:, None] > GOT10K_THRESHOLDS[None, :]).mean(0) if len(ious) else np.full(101, np.nan)
    return GOT10kResult(protocol="got10k-toolkit", ao=mean_or_nan(ious), sr50=mean_or_nan(ious > t50),
                        sr75=float(curve[75]),
                        names=[s.name for s in seqs], success_curve=curve,
                        seq_ao=np.array([mean_or_nan(s.ious) for s in seqs]),
                        seq_sr50=np.array([mean_or_nan(s.ious > t50) for s in seqs]),
                        seq_sr75=np.array([mean_or_nan(s.ious > t75) for s in seqs]),
                        seq_frames=np.array([len(s.ious) for s in seqs]))


def got10k_metrics(preds: Sequence[Any], gts: Sequence[Any], covers: Sequence[Any] | None = None,
                   image_sizes: Sequence[tuple[float, float] | None] | None = None,
                   names: Sequence[str] | None = None) -> GOT10kResult:
    """GOT-10k toolkit AO / SR0.50 / SR0.75 (preds[i]: an (N, 4) array or a list of repetitions)."""
    if len(preds) != len(gts):
        raise InputError(f"{counted(len(preds), 'prediction entry', 'prediction entries')} for "
                         f"{counted(len(gts), 'sequence')}; pass one per sequence")
    n = len(gts)
    names = list(names) if names is not None else [f"seq{i}" for i in range(n)]
    covers = list(covers) if covers is not None else [None] * n
    sizes = list(image_sizes) if image_sizes is not None else [None] * n
    return got10k_aggregate([got10k_sequence(p, g, c, s, nm)
                             for p, g, c, s, nm in zip(preds, gts, covers, sizes, names)])
