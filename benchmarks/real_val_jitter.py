"""Real-video validation keyframes from jittered starts: each clip tracked from N seeded jittered copies of its first
keyframe box, so that a setting is judged on N trajectories per clip instead of one (issue 11).

Usage: python benchmarks/real_val_jitter.py --real JSON [--real JSON ...] --eval KEYS [--eval KEYS ...]
         [--model CKPT] [--inits 8] [--seed 7] [--workdir DIR] --out DIR

One tracked run per clip is a single chaotic trajectory: a setting that changes nothing systematic moves single
keyframes by 0.1 IoU, so two settings cannot be told apart on 10-30 keyframes. Start k = 0 is the labelled box;
starts 1..N-1 move its corner by up to 3 % of its width / height and scale its sides by up to 5 % (uniform, seeded,
the same starts for every setting: paired). The model runs as ONNX Runtime FP32 on 1 thread (`dt export MODEL`,
made once per checkpoint under --workdir), each KEYS a JSON object of TEST keys replacing the switch keys (as
tune_tracker_ext.py --eval). Writes OUT/{table.md, report.json}: per set and pooled, the mean, 10th percentile and
lowest keyframe IoU; per setting after the first, its paired difference with the first (mean over the keyframes of
each clip and start).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))   # sibling scripts: tune_tracker_ext (keys, export, tracking), real_keyframes (clips)

from droptrack.errors import InputError, run_script  # noqa: E402


def starts(box: list[float], count: int, seed: int) -> list[list[float]]:
    """`count` start boxes: `box` itself, then seeded jittered copies (corner +-3 % of the side, sides x [0.95, 1.05])."""
    u = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(max(count - 1, 0), 4))
    x, y, w, h = (float(v) for v in box)
    out = [[x, y, w, h]]
    for a, b, c, d in u:
        out.append([x + 0.03 * a * w, y + 0.03 * b * h, w * (1 + 0.05 * c), h * (1 + 0.05 * d)])
    return out


def clip_ious(tracker, clip: dict, frames: list, count: int, seed: int) -> list[list[float]]:
    """Per start, the IoU at each keyframe after the first (frames from the clip's first keyframe on)."""
    from tune_tracker_ext import keyframe_ious

    first = clip["keyframes"][str(min(int(k) for k in clip["keyframes"]))]
    return [list(keyframe_ious(tracker, clip, frames, init).values()) for init in starts(first, count, seed)]


def summary(values: list[float]) -> dict:
    """Mean, 10th percentile and lowest of keyframe IoUs."""
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "p10": float(np.percentile(a, 10)), "min": float(a.min()), "n": int(a.size)}


def evaluate(backend, keys: dict, sets: dict, count: int, seed: int) -> dict:
    """{set: {clip: per-start keyframe IoUs}} for one setting."""
    from droptrack.runtime.backends import tracker_ext
    from droptrack.runtime.extensions import OFFICIAL
    from droptrack.runtime.tracker import Tracker

    tracker = Tracker(backend, tracker_ext(backend, {**OFFICIAL, **keys}))
    return {name: {clip["name"]: clip_ious(tracker, clip, frames, count, seed) for clip, frames in clips}
            for name, clips in sets.items()}


def table(rows: list[dict], names: list[str], header: list[str]) -> str:
    """Markdown: per setting, each set's and the pooled mean / p10 / lowest; then paired differences."""
    def flat(r: dict, which: list[str]) -> list[float]:
        return [v for n in which for per in r["ious"][n].values() for s in per for v in s]

    lines = header + ["", "| setting | " + " | ".join(f"{n} mean / p10 / lowest" for n in names) + " | pooled |",
                      "|---|" + "---|" * (len(names) + 1)]
    for r in rows:
        cells = [summary(flat(r, [n])) for n in names] + [summary(flat(r, names))]
        lines.append(f"| {r['label']} | " + " | ".join(f"{c['mean']:.3f} / {c['p10']:.2f} / {c['min']:.2f}"
                                                        for c in cells) + " |")
    if len(rows) > 1:
        base = rows[0]
        lines += ["", f"Paired with `{base['label']}`: the mean over each clip's keyframes, per start, minus the "
                  "first setting's; mean of those differences and how many starts gain / lose (of all clips):", "",
                  "| setting | " + " | ".join(names) + " | pooled |", "|---|" + "---|" * (len(names) + 1)]
        for r in rows[1:]:
            cells = []
            for which in [[n] for n in names] + [names]:
                d = [np.mean(s) - np.mean(b) for n in which for clip in r["ious"][n]
                     for s, b in zip(r["ious"][n][clip], base["ious"][n][clip])]
                cells.append(f"{np.mean(d):+.3f} ({sum(x > 0 for x in d)} / {sum(x < 0 for x in d)})")
            lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", action="append", required=True, metavar="JSON", help="keyframe file (repeatable)")
    ap.add_argument("--eval", action="append", required=True, metavar="KEYS", help="TEST keys (JSON), repeatable")
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    ap.add_argument("--inits", type=int, default=8, help="starts per clip (the first is the labelled box)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default="/tmp/droptrack-real-jitter")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from tune_tracker_ext import given_keys, label, onnx_model, shown

    try:
        given = [given_keys(k) for k in args.eval]
    except ValueError as e:
        ap.error(str(e))
    if args.inits < 1:
        ap.error(f"--inits {args.inits}: give at least 1 (1 = the labelled start only)")
    missing = [p for p in args.real if not Path(p).is_file()]
    if missing:
        ap.error(f"--real {missing[0]}: no such keyframe file; pass one of benchmarks/data/real_video_*.json")
    os.environ["OMP_NUM_THREADS"] = "1"
    import cv2
    from real_keyframes import clip_frames

    from droptrack.artifact import atomic_write_json, atomic_write_text, sha256_file
    from droptrack.engine.onnxruntime_backend import OrtBackend
    from droptrack.eval.machine import benchmark_machine

    if args.model is not None and not Path(args.model).is_file():   # before any folder is made
        raise InputError(f"--model {args.model}: no such checkpoint; pass an existing .pt file")
    cv2.setNumThreads(1)
    work, out = Path(args.workdir), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    onnx = onnx_model(args.model, work)
    backend = OrtBackend(onnx, threads=1)
    sets = {Path(p).stem.removeprefix("real_video_").removesuffix("_keyframes"):
            [(c, clip_frames(c)) for c in json.loads(Path(p).read_text())["clips"]] for p in args.real}
    rows = []
    for keys in given:
        ious = evaluate(backend, keys, sets, args.inits, args.seed)
        rows.append({"keys": keys, "label": label(keys), "ious": ious})
        pooled = summary([v for per in ious.values() for s in per.values() for x in s for v in x])
        print(f"{label(keys):60s} pooled mean {pooled['mean']:.3f} p10 {pooled['p10']:.2f} "
              f"lowest {pooled['min']:.2f}", flush=True)
    command = "python benchmarks/real_val_jitter.py " + " ".join(shlex.quote(shown(a, work)) for a in sys.argv[1:])
    header = [f"# Real validation keyframes from {args.inits} jittered starts per clip (seed {args.seed}; ONNX "
              "Runtime FP32, 1 thread)", "", f"Command: `{command}`", "",
              f"Model: {shown(args.model, work) if args.model else 'embedded default'} (ONNX sha256 "
              f"{sha256_file(onnx)[:12]}); sets: " + ", ".join(f"{n} ({len(c)} clips)" for n, c in sets.items())]
    atomic_write_text(out / "table.md", table(rows, list(sets), header))
    atomic_write_json(out / "report.json", {"command": command, "inits": args.inits, "seed": args.seed,
                                            "onnx_sha256": sha256_file(onnx), "rows": rows,
                                            "machine": benchmark_machine()})
    print(f"-> {out / 'table.md'}")


if __name__ == "__main__":
    run_script(main)
