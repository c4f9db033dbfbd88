"""Tracking divergence of reduced-precision graphs vs the FP32 graph: calibration methods and INT8 targets.

For the default model (or --checkpoint): export FP32 and FP16 once, calibrate INT8 once per method on tracking
crops (synthetic train split), build both INT8 graphs (TensorRT: symmetric Q/DQ on FP16; ORT CPU: U8S8) with the
default kept groups, then track every sequence of a synthetic *validation* set (val split, --seed; never the seed
a result is reported on) with each graph (ONNX Runtime, 1 thread) and count frames whose box has IoU < 0.5 with
the FP32 graph's (init frames excluded). This drove the choice of the default calibration method.

    nice -n 10 python benchmarks/bench_int8_accuracy.py [--seed 1] [--sequences 40] [--frames 40] \
        [--methods minmax,percentile,entropy] [--work out/bench_int8_accuracy]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from droptrack.eval.machine import benchmark_machine

OUT = Path(__file__).parent / "results"


def mean_iou(boxes: dict, reference: dict) -> float:
    from droptrack.geometry import box_iou

    return float(np.concatenate([box_iou(boxes[k][1:], reference[k][1:]) for k in reference]).mean())


def main() -> None:
    from droptrack.data import get_sequences
    from droptrack.data.synth import ensure_synth
    from droptrack.export.auto_precision import divergence, track_boxes
    from droptrack.export.calibration import calibration_pairs
    from droptrack.export.onnx import read_metadata
    from droptrack.export.pipeline import export_fp16, export_onnx, load_source
    from droptrack.export.quantize import Int8Recipe, quantize_int8

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sequences", type=int, default=40)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--methods", default="minmax,percentile,entropy")
    ap.add_argument("--targets", default="trt,ort")
    ap.add_argument("--work", type=Path, default=Path("out/bench_int8_accuracy"))
    ap.add_argument("--name", default="int8_calibration")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    t_start = time.perf_counter()
    work = args.work
    fp32 = work / "model.onnx"
    if not fp32.is_file():
        src = load_source(args.checkpoint)
        export_fp16(export_onnx(output_dir=work, source=src).path, src)
    val = ensure_synth(work / f"val_s{args.seed}_{args.sequences}x{args.frames}", args.sequences, args.frames,
                       args.seed, (320, 240), split="val")
    seqs = get_sequences("synth", val, split="val")
    ref = track_boxes(fp32, seqs)
    rows = {}

    def measure(name: str, path: Path) -> None:
        boxes = track_boxes(path, seqs)
        rows[name] = {"divergence": divergence(boxes, ref), "mean_iou": mean_iou(boxes, ref)}
        print(name, json.dumps(rows[name]), flush=True)

    measure("fp16", work / "model_fp16.onnx")
    pairs = calibration_pairs(read_metadata(fp32), "synth", 32)
    for method in args.methods.split(","):
        for target in args.targets.split(","):
            path = work / f"int8_{target}_{method}.onnx"
            if not path.is_file():
                quantize_int8(fp32, path, read_metadata(fp32), pairs[0], pairs[1], Int8Recipe(target, method))
            measure(f"int8_{target}_{method}", path)
    res = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "command": f"nice -n 10 python benchmarks/bench_int8_accuracy.py --seed {args.seed} --sequences "
                      f"{args.sequences} --frames {args.frames} --methods {args.methods} --targets {args.targets}",
           "checkpoint": args.checkpoint or "embedded default model", "validation": f"synthetic val split seed "
           f"{args.seed}, {len(seqs)} sequences x {args.frames} frames", "frames_scored": sum(len(s) - 1 for s in seqs),
           "calibration": f"{len(pairs[0])} pairs, {pairs[1]}", "machine": benchmark_machine(),
           "wall_s": round(time.perf_counter() - t_start), "loadavg_1m_end": round(os.getloadavg()[0], 2), "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = [f"# Tracking divergence vs the FP32 graph ({res['validation']})", "",
             f"Recorded {res['date']} by `{res['command']}`; {res['checkpoint']}; calibration {res['calibration']}; "
             f"{res['frames_scored']} tracked frames; ONNX Runtime CPU, 1 thread; {res['wall_s']} s.", "",
             "| graph | diverged frames (IoU < 0.5 vs FP32) | mean IoU vs FP32 |", "|---|---|---|"]
    lines += [f"| {k} | {v['divergence']:.1%} | {v['mean_iou']:.3f} |" for k, v in rows.items()]
    lines += ["", "int8_trt_* = TensorRT graph (symmetric Q/DQ on FP16; attention MatMuls, patch embedding, head in "
              "FP16) run by ONNX Runtime on the CPU; int8_ort_* = ORT CPU graph (U8S8; patch embedding, head in FP32)."]
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
