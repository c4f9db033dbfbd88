"""`dt export --ort`: model_ort.onnx against model.onnx, side by side on the same sequences, 1 thread.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_ort_graph.py --export DIR --data SET [--data SET ...] [--out OUT]
         [--video CLIP.mp4 --init X,Y,W,H ...]
       OMP_NUM_THREADS=1 python benchmarks/bench_ort_graph.py --default --data SET ... (the same table: the embedded
         checkpoint in torch, the reference, against a run without a model file, the shipped ONNX Runtime graph)

DIR is a `dt export --ort [--int8]` folder; every graph of it that is there runs: model.onnx (the reference),
model_ort.onnx and model_int8_ort.onnx. SET is a `dt data synth` folder; --video adds a real clip tracked from the
box given. Per sequence every graph tracks it, one after the other in an order that rotates, so load changes on a
shared machine hit them alike. Time: each `track` call's wall and process CPU time (the latter leaves out what other
jobs took from the core). Reported per graph: FPS = frames / total CPU seconds and the median frame, the CPU-time
ratio to model.onnx, and the largest difference of any box from model.onnx's (pixels) with the share of frames whose
box parts from it (IoU < 0.5). Writes OUT/speed.json and OUT/speed.md.

`--network N` times the network alone instead, N interleaved rounds on random inputs of one frame's crops: model.onnx
in one call per crop, model.onnx with its attention blocks fused (made here, in a temp folder) likewise, and
model_ort.onnx in one call; it prints the median of each and its ratio to the first (OUT/network.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_scale_gate import track_timed  # noqa: E402  (boxes from the init row on, each frame's wall and CPU ms)
from droptrack.errors import InputError, run_script  # noqa: E402
from droptrack.geometry import box_iou  # noqa: E402

GRAPHS = ("model.onnx", "model_ort.onnx", "model_int8_ort.onnx")


def sequences(sets: list[str], videos: list[tuple[str, str]]):
    """(name, frames, init box) of every synth sequence, then of every clip."""
    from droptrack.data import get_sequences
    from droptrack.runtime.sources import open_source

    for root in sets:
        for seq in get_sequences("synth", root=root):
            yield f"{Path(root).name}/{seq.name}", list(seq.iter_frames()), seq.boxes[0]
    for clip, init in videos:
        with open_source(clip) as src:
            yield Path(clip).name, [f.image for f in src], [float(v) for v in init.split(",")]


def export_trackers(export: Path) -> dict:
    """A tracker per graph of a dt export folder, model.onnx (the reference) first."""
    from droptrack.runtime.tracker import load_tracker

    return {g: load_tracker(export / g, threads=1) for g in GRAPHS if (export / g).is_file()}


def default_trackers() -> dict:
    """The embedded checkpoint in torch (the reference) and a tracker without a model file (the shipped graph)."""
    import torch

    from droptrack.model.default import default_checkpoint
    from droptrack.runtime.tracker import load_tracker

    torch.set_num_threads(1)
    default = load_tracker(threads=1)
    return {"checkpoint, torch": load_tracker(default_checkpoint()), f"default ({default.backend.name})": default}


def measure(trackers: dict, sets: list[str], videos: list[tuple[str, str]]) -> dict:
    """Every tracker on every sequence, interleaved; per tracker the totals and the boxes' difference from the
    first's."""
    names = list(trackers)
    rows = {g: {"wall": [], "cpu": [], "diff": 0.0, "parted": 0} for g in names}
    n = k = 0
    for k, (label, frames, init) in enumerate(sequences(sets, videos)):
        order = names[k % len(names):] + names[:k % len(names)]
        boxes = {}
        for g in order:
            boxes[g], wall, cpu, _ = track_timed(trackers[g], frames, init)
            rows[g]["wall"] += wall
            rows[g]["cpu"] += cpu
        for g in names:
            rows[g]["diff"] = max(rows[g]["diff"], float(np.abs(boxes[g] - boxes[names[0]]).max()))
            rows[g]["parted"] += int((box_iou(boxes[g], boxes[names[0]]) < 0.5).sum())
        n += len(frames) - 1
        print(f"{label}: {len(frames) - 1} frames", flush=True)
    ref = sum(rows[names[0]]["cpu"])
    out = {"sequences": k + 1, "frames": n, "reference": names[0], "graphs": {}}
    for g, r in rows.items():
        out["graphs"][g] = {"fps_cpu": 1e3 * n / sum(r["cpu"]), "fps_wall": 1e3 * n / sum(r["wall"]),
                            "median_frame_ms_cpu": statistics.median(r["cpu"]), "cpu_ratio": ref / sum(r["cpu"]),
                            "max_box_diff_px": r["diff"], "parted_share": r["parted"] / n}
    return out


def network(export: Path, rounds: int) -> dict:
    """Median ms of one frame's crops through each form of the network, interleaved round by round."""
    import tempfile

    from droptrack.engine.onnxruntime_backend import OrtBackend
    from droptrack.export.ort_attention import fuse_attention_file

    with tempfile.TemporaryDirectory() as tmp:
        fused = Path(tmp) / "fused.onnx"
        fuse_attention_file(export / "model.onnx", fused)
        forms = {"model.onnx": OrtBackend(export / "model.onnx", threads=1),
                 "model.onnx, attention fused": OrtBackend(fused, threads=1),
                 "model_ort.onnx": OrtBackend(export / "model_ort.onnx", threads=1)}
    batch = forms["model_ort.onnx"].session.get_inputs()[0].shape[0]
    meta = forms["model.onnx"].meta
    rng = np.random.default_rng(0)
    z = rng.standard_normal((batch, 3, meta.template_size, meta.template_size)).astype(np.float32)
    x = rng.standard_normal((batch, 3, meta.search_size, meta.search_size)).astype(np.float32)
    times: dict[str, list[float]] = {k: [] for k in forms}
    for _ in range(rounds):
        for k, b in forms.items():
            t0 = time.perf_counter()
            b.infer(z, x)
            times[k].append((time.perf_counter() - t0) * 1e3)
    ref = statistics.median(times["model.onnx"])
    return {"crops": batch, "rounds": rounds, "forms": {k: {"median_ms": statistics.median(v),
                                                            "x_model_onnx": ref / statistics.median(v)}
                                                        for k, v in times.items()}}


def markdown(res: dict, command: str) -> str:
    lines = [f"`{command}`", "", f"{res['sequences']} sequences, {res['frames']} frames, 1 thread", "",
             f"| graph | FPS (CPU time) | FPS (wall) | median frame ms (CPU) | x {res['reference']} (CPU time) | "
             "max box diff px | frames parted (IoU < 0.5) |", "|---|---|---|---|---|---|---|"]
    for g, r in res["graphs"].items():
        lines.append(f"| {g} | {r['fps_cpu']:.1f} | {r['fps_wall']:.1f} | {r['median_frame_ms_cpu']:.2f} | "
                     f"{r['cpu_ratio']:.3f} | {r['max_box_diff_px']:.2g} | {100 * r['parted_share']:.2f} % |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", help="a dt export --ort folder")
    ap.add_argument("--default", action="store_true", help="the embedded model: its checkpoint in torch against "
                    "a run without a model file")
    ap.add_argument("--data", action="append", default=[], help="a dt data synth folder (repeatable)")
    ap.add_argument("--video", action="append", default=[], help="a clip (repeatable, each with its --init)")
    ap.add_argument("--init", action="append", default=[], help="X,Y,W,H of the clip before it, on its first frame")
    ap.add_argument("--out", default="out/bench_ort_graph")
    ap.add_argument("--network", type=int, default=0, help="time the network alone, this many rounds")
    args = ap.parse_args()
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("note: set OMP_NUM_THREADS=1 for numbers comparable to the recorded ones", file=sys.stderr)
    if (args.export is None) == (not args.default) or (args.default and args.network):
        raise InputError("give --export DIR (with --network N or sequences) or --default (with sequences)")
    if len(args.video) != len(args.init):
        raise InputError("give one --init per --video")
    if not args.network and not args.data and not args.video:   # else 0 frames: a division by zero after the load
        raise InputError("nothing to track: give --data SET or --video CLIP --init X,Y,W,H (or --network N)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "OMP_NUM_THREADS=1 python benchmarks/bench_ort_graph.py " + " ".join(sys.argv[1:])
    if args.network:
        res = network(Path(args.export), args.network)
        (out / "network.json").write_text(json.dumps({**res, "command": command}, indent=1) + "\n")
        for k, r in res["forms"].items():
            print(f"{k:30s} {r['median_ms']:7.2f} ms  {r['x_model_onnx']:.3f}x")
        return
    trackers = default_trackers() if args.default else export_trackers(Path(args.export))
    res = measure(trackers, args.data, list(zip(args.video, args.init)))
    (out / "speed.json").write_text(json.dumps({**res, "command": command}, indent=1) + "\n")
    (out / "speed.md").write_text(markdown(res, command))
    print(markdown(res, command))


if __name__ == "__main__":
    run_script(main)
