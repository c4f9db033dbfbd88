"""Where a model loses IoU on real keyframes: size, shape or position, beside CSRT (issue 11's real-video target).

    python benchmarks/real_val_errors.py --real JSON [--real JSON ...] [--model CKPT] > table.md

Each clip is tracked from its labelled first keyframe (torch, the model's packaged procedure, 1 thread) and by
OpenCV's CSRT. Per clip and tracker, over the other keyframes: the mean IoU; the IoU the box would have with the
ground truth's size at its own centre (what the size costs) and with its own size at the ground truth's centre
(what the position costs); the geometric means of its area ratio and aspect ratio to the ground truth's (1 = right);
and its centre error over the ground truth's side sqrt(w h). A common size or shape bias across clips would show as
ratios on one side of 1 everywhere.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))   # sibling scripts: real_keyframes (clips), tune_tracker_ext (tracking)
sys.path.insert(0, str(HERE.parent))

from droptrack.errors import InputError, run_script  # noqa: E402


def errors(pred: np.ndarray, gt: np.ndarray) -> tuple[float, ...]:
    """IoU, IoU at the truth's size, IoU at the truth's centre, area ratio, aspect ratio, centre error / side."""
    from droptrack.geometry import box_iou

    (px, py, pw, ph), (gx, gy, gw, gh) = pred, gt
    pcx, pcy, gcx, gcy = px + pw / 2, py + ph / 2, gx + gw / 2, gy + gh / 2
    sized = [pcx - gw / 2, pcy - gh / 2, gw, gh]
    placed = [gcx - pw / 2, gcy - ph / 2, pw, ph]
    ious = box_iou(np.asarray([pred, sized, placed], dtype=np.float64), np.tile(gt, (3, 1)))
    return (*ious.tolist(), pw * ph / (gw * gh), (pw / ph) / (gw / gh),
            math.hypot(pcx - gcx, pcy - gcy) / math.sqrt(gw * gh))


def row(clip: str, tracker: str, per_key: list[tuple[float, ...]]) -> str:
    """One markdown row: means of the IoUs and of the centre error, geometric means of the ratios."""
    a = np.asarray(per_key)
    geo = np.exp(np.log(a[:, 3:5]).mean(0))
    return (f"| {clip} | {tracker} | {len(a)} | {a[:, 0].mean():.3f} | {a[:, 1].mean():.3f} | {a[:, 2].mean():.3f} | "
            f"{geo[0]:.2f} | {geo[1]:.2f} | {a[:, 5].mean():.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", action="append", required=True, metavar="JSON", help="keyframe file (repeatable)")
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    args = ap.parse_args()
    missing = [p for p in args.real if not Path(p).is_file()]
    if missing:
        raise InputError(f"--real {missing[0]}: no such keyframe file; pass one of benchmarks/data/real_video_*.json")
    from real_keyframes import clip_frames
    from tune_tracker_ext import track

    from droptrack.engine.threads import apply_threads
    from droptrack.eval.baselines import create
    from droptrack.runtime.tracker import load_tracker

    apply_threads(1)
    print("| clip | tracker | keyframes | mean IoU | IoU at the truth's size | IoU at the truth's centre | "
          "area ratio | aspect ratio | centre error / side |\n|---|---|---|---|---|---|---|---|---|")
    for path in args.real:
        for clip in json.loads(Path(path).read_text())["clips"]:
            keys = sorted(int(k) for k in clip["keyframes"])
            gt = {k: np.asarray(clip["keyframes"][str(k)], dtype=np.float64) for k in keys}
            frames = clip_frames(clip)
            for name, tracker in (("model", load_tracker(args.model)), ("csrt", create("csrt"))):
                boxes = track(tracker, frames, gt[keys[0]])
                print(row(clip["name"], name, [errors(boxes[k - keys[0]], gt[k]) for k in keys[1:]]), flush=True)


if __name__ == "__main__":
    run_script(main)
