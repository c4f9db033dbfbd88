"""Issue 11: the gated scale search's speed and boxes, side by side with the ungated one, on synthetic sets.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_scale_gate.py --model MODEL.onnx --data SET [--data SET ...]
         [--gate 0.5] [--out DIR]

MODEL is `dt export`'s model.onnx (or model_int8_ort.onnx) of the model under test; SET a `dt data synth` folder.
Two settings of the same graph, 1 thread: the model's keys with `SCALE_GATE` off (every frame runs its 0.8 crop)
and with `SCALE_GATE: --gate`. Per sequence both track it one after the other, the order alternating, so load
changes on a shared machine hit both alike. Time: each `track` call's wall and process CPU time (the latter leaves
out what other jobs took from the core). Reported per setting: FPS = frames / total seconds (wall and CPU), the
median frame, the share of frames whose 0.8 crop ran, the AUC; and the CPU-time ratio gated / ungated.
Writes OUT/{speed.json, speed.md} and each setting's boxes per set, OUT/boxes_{ungated,gated}_<SET>.npz
(`pooled_delta_auc.py --set SET,OUT/boxes_ungated_SET.npz,OUT/boxes_gated_SET.npz`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from droptrack.errors import run_script  # noqa: E402


def track_timed(tracker, frames: list, init) -> tuple[np.ndarray, list[float], list[float], int]:
    """OPE boxes (row 0 = the init box), each frame's wall and CPU ms, and how many frames ran an extra crop."""
    tracker.initialize(frames[0], init)
    boxes, wall, cpu, extra = [list(map(float, init))], [], [], 0
    for f in frames[1:]:
        w0, c0 = time.perf_counter(), time.process_time()
        boxes.append(tracker.track(f)[0])
        wall.append((time.perf_counter() - w0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
        extra += tracker.extensions is not None and max(tracker.extensions.counts) > 1   # official: none
    return np.asarray(boxes, np.float64), wall, cpu, extra


def measure(model: str, sets: list[str], gate: float) -> dict:
    """Both settings on every sequence of `sets`, interleaved; per setting the totals and AUC."""
    from droptrack.data import get_sequences
    from droptrack.eval.metrics import ope_metrics
    from droptrack.runtime.tracker import load_tracker

    settings = {"ungated": {"SCALE_GATE": None}, f"gated {gate:g}": {"SCALE_GATE": gate}}
    trackers = {k: load_tracker(model, threads=1, ext=v) for k, v in settings.items()}
    rows: dict[str, dict] = {k: {"wall": [], "cpu": [], "extra": 0, "preds": [], "boxes": {}} for k in settings}
    gts = []
    n = 0
    for root in sets:
        for r in rows.values():
            r["boxes"][root] = {}
        for seq in get_sequences("synth", root=root):
            frames = list(seq.iter_frames())
            gts.append(seq.boxes)
            order = list(settings) if n % 2 == 0 else list(settings)[::-1]
            for k in order:
                boxes, wall, cpu, extra = track_timed(trackers[k], frames, seq.boxes[0])
                r = rows[k]
                r["wall"] += wall
                r["cpu"] += cpu
                r["extra"] += extra
                r["preds"].append(boxes)
                r["boxes"][root][seq.name] = boxes
            n += 1
    out = {}
    for k, r in rows.items():
        frames = len(r["cpu"])
        out[k] = {"frames": frames, "fps_wall": frames / (sum(r["wall"]) / 1e3),
                  "fps_cpu": frames / (sum(r["cpu"]) / 1e3),
                  "median_ms_wall": statistics.median(r["wall"]), "median_ms_cpu": statistics.median(r["cpu"]),
                  "extra_crop_share": r["extra"] / frames,
                  "auc": float(ope_metrics(r["preds"], gts, "generic").auc)}
    return {"sequences": n, "settings": out, "boxes": {k: r["boxes"] for k, r in rows.items()}}


def table(result: dict, args: argparse.Namespace, machine: str) -> str:
    """Markdown of `measure`'s result."""
    rows = result["settings"]
    base, gated = rows["ungated"], rows[f"gated {args.gate:g}"]
    lines = [f"# Gated scale search, side by side ({result['sequences']} sequences; {machine}; load "
             f"{os.getloadavg()[0]:.1f} at the end)", "",
             f"`OMP_NUM_THREADS=1 python benchmarks/bench_scale_gate.py --model {args.model_label} "
             + " ".join(f"--data {d}" for d in args.data_labels) + f" --gate {args.gate:g}`", "",
             "| setting | FPS (CPU time) | FPS (wall) | median frame, CPU ms | frames with the 0.8 crop | AUC |",
             "|---|---|---|---|---|---|"]
    for k, r in rows.items():
        lines.append(f"| {k} | {r['fps_cpu']:.1f} | {r['fps_wall']:.1f} | {r['median_ms_cpu']:.2f} | "
                     f"{100 * r['extra_crop_share']:.1f} % | {100 * r['auc']:.2f} |")
    lines += ["", f"Gated / ungated: **{gated['fps_cpu'] / base['fps_cpu']:.3f}x** by CPU time, "
              f"{gated['fps_wall'] / base['fps_wall']:.3f}x by wall time."]
    return "\n".join(lines) + "\n"


def main() -> None:
    from droptrack.artifact import atomic_savez, atomic_write_json, atomic_write_text
    from droptrack.eval.machine import benchmark_machine, machine_line

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="an .onnx graph from dt export")
    ap.add_argument("--data", action="append", required=True, help="a dt data synth folder (repeatable)")
    ap.add_argument("--gate", type=float, default=0.5)
    ap.add_argument("--out", default="benchmarks/results/scale_gate_speed")
    args = ap.parse_args()
    args.model_label = Path(args.model).name
    args.data_labels = [Path(d).name for d in args.data]
    machine = benchmark_machine()
    result = measure(args.model, args.data, args.gate)
    result["machine"] = machine
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for k, per_set in result.pop("boxes").items():   # for pooled_delta_auc.py --set DATA,REF.npz,CAND.npz
        for root, boxes in per_set.items():
            atomic_savez(out / f"boxes_{k.split()[0]}_{Path(root).name}.npz", boxes)
    atomic_write_json(out / "speed.json", result)
    text = table(result, args, machine_line(machine))
    atomic_write_text(out / "speed.md", text)
    print(text)


if __name__ == "__main__":
    run_script(main)
