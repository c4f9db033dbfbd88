"""Tracking divergence of reduced-precision graphs vs the FP32 graph: calibration methods and INT8 targets.

For the default model (or --model CKPT): export FP32 and FP16 once, calibrate INT8 once per method on tracking
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

from droptrack.artifact import atomic_savez, atomic_write_json, atomic_write_text
from droptrack.eval.machine import benchmark_machine
from droptrack.errors import run_script

OUT = Path(__file__).parent / "results"


def seq_auc(boxes: dict, seqs: list) -> "np.ndarray":
    """Per-sequence OPE AUC (points) of tracked boxes against the ground truth."""
    from droptrack.eval.metrics import ope_metrics

    res = ope_metrics([boxes[s.name] for s in seqs], [s.boxes for s in seqs], "synth", names=[s.name for s in seqs])
    return 100.0 * res.seq_success.mean(axis=1)


def mean_iou(boxes: dict, reference: dict) -> float:
    from droptrack.geometry import box_iou

    return float(np.concatenate([box_iou(boxes[k][1:], reference[k][1:]) for k in reference]).mean())


def graph_folder(work: Path, checkpoint: str | None) -> Path:
    """Where one checkpoint's graphs and tracked boxes are cached: WORK/model_<sha256[:12]> (they were all kept in
    WORK itself, so --model OTHER reused the first model's graphs and boxes)."""
    from droptrack.artifact import sha256_file
    from droptrack.model.default import default_checkpoint

    return work / f"model_{sha256_file(checkpoint or default_checkpoint())[:12]}"


def main() -> None:
    from droptrack.data import get_sequences
    from droptrack.data.synth import ensure_synth
    from droptrack.export.divergence import divergence, track_boxes
    from droptrack.export.calibration import calibration_pairs
    from droptrack.export.onnx import read_metadata
    from droptrack.export.pipeline import export_fp16, export_onnx, load_source
    from droptrack.export.quantize import Int8Recipe, quantize_int8
    from droptrack.eval.bench_gates import paired_bootstrap_ci

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", "--checkpoint", dest="checkpoint", default=None,
                    help="checkpoint (default: the embedded model)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sequences", type=int, default=40)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--methods", default="minmax,percentile,entropy")
    ap.add_argument("--targets", default="trt,ort,fp16")
    ap.add_argument("--work", type=Path, default=Path("out/bench_int8_accuracy"))
    ap.add_argument("--name", default="int8_calibration")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    t_start = time.perf_counter()
    work = graph_folder(args.work, args.checkpoint)
    fp32 = work / "model.onnx"
    if not (work / "model_fp16.onnx").is_file():   # written after model.onnx: both are there
        src = load_source(args.checkpoint)
        export_fp16(export_onnx(output_dir=work, source=src).path, src)
    ctx = {"args": args, "t0": t_start}
    val = ensure_synth(args.work / f"val_s{args.seed}_{args.sequences}x{args.frames}", args.sequences, args.frames,
                       args.seed, (320, 240), split="val")
    seqs = get_sequences("synth", val, split="val")

    def boxes_of(name: str, path: Path) -> dict:
        """Tracked boxes, cached next to the graphs (the runs are long on a shared machine)."""
        cache = work / f"boxes_{name}_s{args.seed}_{args.sequences}x{args.frames}.npz"
        if cache.is_file():
            return dict(np.load(cache, allow_pickle=False))
        boxes = track_boxes(path, seqs)
        atomic_savez(cache, boxes)
        return boxes

    ref = boxes_of("fp32", fp32)
    rows: dict = {}
    fp16_boxes: dict = {}

    def measure(name: str, path: Path) -> None:
        boxes = boxes_of(name, path)
        ci = paired_bootstrap_ci(seq_auc(boxes, seqs), seq_auc(ref, seqs))
        rows[name] = {"divergence": divergence(boxes, ref), "mean_iou": mean_iou(boxes, ref),
                      "delta_auc_ci": [ci.delta, ci.low, ci.high]}
        if fp16_boxes and name != "fp16":
            rows[name]["divergence_vs_fp16"] = divergence(boxes, fp16_boxes)
        print(name, json.dumps(rows[name]), flush=True)
        write(rows, ctx)

    pairs = calibration_pairs(read_metadata(fp32), "synth", 32)
    ctx.update(seqs=seqs, pairs=pairs)
    graphs = [("int8_ort", "minmax", "ort")] + ([("fp16", None, None)] if "fp16" in args.targets.split(",") else [])
    graphs += [(f"int8_trt_{m}", m, "trt") for m in args.methods.split(",")]
    for name, method, target in graphs:
        if target is not None and target not in args.targets.split(","):
            continue
        path = work / "model_fp16.onnx" if target is None else work / f"{name}.onnx"
        if not path.is_file():
            quantize_int8(fp32, path, read_metadata(fp32), pairs[0], pairs[1], Int8Recipe(target, method))
        measure(name, path)
        if name == "fp16":
            fp16_boxes.update(boxes_of("fp16", path))
            rows["fp16"]["divergence_vs_fp16"] = 0.0


def write(rows: dict, ctx: dict) -> None:
    """Results so far -> OUT/<name>.json and .md (rewritten after every graph)."""
    args, seqs, pairs, t_start = ctx["args"], ctx["seqs"], ctx["pairs"], ctx["t0"]
    res = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "command": f"nice -n 10 python benchmarks/bench_int8_accuracy.py --seed {args.seed} --sequences "
                      f"{args.sequences} --frames {args.frames} --methods {args.methods} --targets {args.targets}",
           "checkpoint": args.checkpoint or "embedded default model", "validation": f"synthetic val split seed "
           f"{args.seed}, {len(seqs)} sequences x {args.frames} frames", "frames_scored": sum(len(s) - 1 for s in seqs),
           "calibration": f"{len(pairs[0])} pairs, {pairs[1]}", "machine": benchmark_machine(),
           "wall_s": round(time.perf_counter() - t_start), "loadavg_1m_end": round(os.getloadavg()[0], 2), "rows": rows}
    atomic_write_json(args.out / f"{args.name}.json", res)
    lines = [f"# Tracking divergence vs the FP32 graph ({res['validation']})", "",
             f"Recorded {res['date']} by `{res['command']}`; {res['checkpoint']}; calibration {res['calibration']}; "
             f"{res['frames_scored']} tracked frames; ONNX Runtime CPU, 1 thread; {res['wall_s']} s.", "",
             "| graph | diverged frames (IoU < 0.5 vs FP32) | mean IoU vs FP32 | diverged vs FP16 graph | "
             "ΔAUC vs FP32 [95% CI] |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['divergence']:.1%} | {v['mean_iou']:.3f} | "
              + (f"{v['divergence_vs_fp16']:.1%} | " if "divergence_vs_fp16" in v else "- | ")
              + "{:+.2f} [{:+.2f}, {:+.2f}] |".format(*v["delta_auc_ci"]) for k, v in rows.items()]
    lines += ["", "int8_trt_<method> = TensorRT graph (symmetric Q/DQ on FP16; attention MatMuls, patch embedding, "
              "head in FP16) run by ONNX Runtime on the CPU, calibrated with <method>; int8_ort = ORT CPU graph "
              "(dynamic U8S8, no calibration; attention MatMuls and convs in FP32). 'diverged vs FP16 graph' isolates "
              "what INT8 adds on top of the TensorRT graph's FP16 base."]
    atomic_write_text(args.out / f"{args.name}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    run_script(main)
