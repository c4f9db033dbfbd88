"""A droptrack model (torch, ONNX FP32, ONNX INT8) vs OpenCV CSRT / MIL / KCF on a hard held-out synthetic set.

Usage: python benchmarks/bench_hard_default.py SET_DIR [--model CKPT] [--onnx DIR] [--out results/x.json]
         [--trackers torch,onnx,int8,csrt,mil,kcf]
SET_DIR is a `dt data synth --attributes ...` folder (see benchmarks/default_model.md for the exact sets); --onnx is
a `dt export MODEL --int8` folder (model.onnx, model_int8.onnx). Every tracker runs the same sequences one after
another on 1 thread (torch / ONNX Runtime intra-op threads, cv2.setNumThreads(1)); scores are `dt analyze`'s OPE
metrics (success AUC over 21 thresholds, precision at 20 px) over all frames, FPS = 1 / median tracker time per
frame, and the mean AUC of the sequences carrying each attribute tag. Needs opencv-contrib (CSRT, KCF).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from droptrack.artifact import atomic_write_json
from droptrack.data import get_sequences
from droptrack.eval.machine import benchmark_machine
from droptrack.eval.metrics import ope_metrics

CLASSIC = {"csrt": "TrackerCSRT", "mil": "TrackerMIL", "kcf": "TrackerKCF"}


class Classic:
    """An OpenCV tracker behind the droptrack tracker interface (RGB frames; a failed update keeps the last box)."""

    def __init__(self, kind: str) -> None:
        self.kind, self.tracker, self.last = kind, None, None

    def initialize(self, frame: np.ndarray, box) -> None:
        self.tracker = getattr(cv2, CLASSIC[self.kind]).create()
        self.last = [float(v) for v in box]
        init = [int(round(v)) for v in box]
        init[2:] = [max(4, init[2]), max(4, init[3])]  # MIL and KCF need a few pixels to start
        self.tracker.init(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), tuple(init))

    def track(self, frame: np.ndarray):
        ok, box = self.tracker.update(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if ok:
            self.last = [float(v) for v in box]
        return self.last, 1.0


def build(kind: str, model: str | None, onnx: Path | None):
    """The tracker of one table row."""
    if kind in CLASSIC:
        return Classic(kind)
    import torch

    from droptrack.engine.onnxruntime_backend import OrtBackend
    from droptrack.runtime.tracker import Tracker, load_backend

    torch.set_num_threads(1)
    if kind == "torch":
        backend = load_backend(model)
    else:
        backend = OrtBackend(onnx / ("model.onnx" if kind == "onnx" else "model_int8.onnx"), threads=1)
    return Tracker(backend)


def run(tracker, seqs) -> tuple[list[np.ndarray], np.ndarray]:
    """OPE: init on frame 0 with its GT, track the rest; returns boxes per sequence and every frame's time."""
    preds, times = [], []
    for seq in seqs:
        boxes = []
        for i, frame in enumerate(seq.iter_frames()):
            if i == 0:
                tracker.initialize(frame, seq.boxes[0])
                boxes.append([float(v) for v in seq.boxes[0]])
                continue
            t0 = time.perf_counter()
            box, _ = tracker.track(frame)
            times.append(time.perf_counter() - t0)
            boxes.append(list(box))
        preds.append(np.asarray(boxes, np.float64))
    return preds, np.asarray(times)


def main() -> None:
    """Score every requested tracker on the set; print a table; write JSON with per-sequence and per-tag AUC."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    ap.add_argument("--onnx", type=Path, default=None, help="`dt export --int8` folder for the onnx/int8 rows")
    ap.add_argument("--trackers", default="torch,onnx,int8,csrt,mil,kcf")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    seqs = get_sequences("synth", root=args.set_dir)
    files = {s.name: args.set_dir / s.name / "attributes.txt" for s in seqs}
    tags = {n: f.read_text().split() if f.is_file() else [] for n, f in files.items()}
    rows = {}
    for kind in args.trackers.split(","):
        preds, times = run(build(kind, args.model, args.onnx), seqs)
        res = ope_metrics(preds, [s.boxes for s in seqs], "generic", names=[s.name for s in seqs])
        per = {s.name: float(ope_metrics([p], [s.boxes], "generic").auc) for p, s in zip(preds, seqs)}
        by_tag: dict[str, list[float]] = {}
        for s in seqs:
            for t in tags[s.name]:
                by_tag.setdefault(t, []).append(per[s.name])
        rows[kind] = {"auc": res.auc, "precision": res.precision, "fps_median": float(1.0 / np.median(times)),
                      "per_sequence": per, "by_tag": {t: float(np.mean(v)) for t, v in sorted(by_tag.items())}}
        print(f"{kind:6s} AUC {res.auc:.3f}  prec@20 {res.precision:.3f}  FPS {rows[kind]['fps_median']:.0f}",
              flush=True)
    atomic_write_json(args.out, {"set": str(args.set_dir), "model": args.model, "onnx": str(args.onnx),
                                 "machine": benchmark_machine(), "rows": rows})


if __name__ == "__main__":
    main()
