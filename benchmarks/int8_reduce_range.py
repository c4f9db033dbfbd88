"""ORT INT8 with 7-bit weights (reduce_range) against 8-bit, on tracking divergence vs the FP32 graph, on this CPU's
INT8 kernels (run it again under benchmarks/avx2_dispatch.sh for an AVX2 CPU without VNNI).

    OMP_NUM_THREADS=1 python benchmarks/int8_reduce_range.py --data SET [--model CKPT] [--tracker-keys JSON]
    OMP_NUM_THREADS=1 bash benchmarks/avx2_dispatch.sh python benchmarks/int8_reduce_range.py --data SET ...

Without VNNI, ONNX Runtime's U8S8 GEMMs add pairs of u8 x s8 products in int16 and saturate (VPMADDUBSW); 7-bit
weights make every pair fit. Graphs (from the checkpoint's FP32 graph, made once under --work): the embedded
model's searched kept set (droptrack/weights/*.int8.json, or --keep) and every group INT8, each with 8-bit and
7-bit weights. Each is tracked over SET (ORT, 1 thread) and compared with the FP32 graph tracked on the same CPU:
diverged frames (IoU < 0.5; all, and where FP32 is on the target), mean IoU, ΔAUC [paired bootstrap 95 % CI]; then
the graphs' model time in interleaved rounds. Writes OUT/{table.md,report.json} (OUT names the CPU's INT8 kernels).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from droptrack.errors import run_script  # noqa: E402
from tracker_keys_option import add_model_options, keyed_checkpoint, model_args, parsed_keys, write_report  # noqa: E402

GRID_KEYS = '{"CROP_GRID": 0.1, "SCALE_SEARCH": [0.8], "SCALE_PENALTY": 0.97}'   # the kept set's search setting


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_options(ap)
    ap.set_defaults(tracker_keys=GRID_KEYS)
    ap.add_argument("--data", required=True, help="a `dt data synth` folder (validation data)")
    ap.add_argument("--keep", default=None, help="comma-separated kept groups (default: the embedded model's)")
    ap.add_argument("--jitter", type=float, default=0.0, help="also the FP32 graph with N(0, x) px of state noise per "
                    "frame (the loop's noise floor: no numerics changed)")
    ap.add_argument("--runs", type=int, default=200, help="interleaved timing rounds")
    ap.add_argument("--work", type=Path, default=Path("/tmp/droptrack-reduce-range"))
    ap.add_argument("--out", type=Path, default=None, help="default benchmarks/results/int8_reduce_range/<kernels>")
    a = ap.parse_args(argv)
    a.keys = parsed_keys(ap, a)
    return a


def kept_groups(keep: str | None) -> tuple[str, ...]:
    """--keep, or the ORT groups the embedded model's precision search kept."""
    if keep is not None:
        return tuple(k for k in keep.split(",") if k)
    from droptrack.model.default import default_checkpoint

    return tuple(json.loads(default_checkpoint().with_suffix(".int8.json").read_text())["kept"]["ort"])


def int8_kernels(machine: dict) -> str:
    """'avx2' or 'vnni': which ONNX Runtime U8S8 kernels this CPU runs (describe_cpu's cpu_int8: 'AVX2, no VNNI (...)',
    'AVX-512 VNNI', ...), so caches and reports of the two never mix."""
    isa = machine.get("cpu_int8") or ""
    return "avx2" if "no VNNI" in isa or "VNNI" not in isa else "vnni"


def fp32_graph(a: argparse.Namespace) -> tuple[Path, Path]:
    """(cache folder of the checkpoint with a.keys, its FP32 graph there, exported once)."""
    from droptrack.export.pipeline import export_onnx, load_source

    ckpt, work = keyed_checkpoint(a)
    if not (work / "model.onnx").is_file():
        export_onnx(output_dir=work, source=load_source(str(ckpt)))
    return work, work / "model.onnx"


def cached_boxes(work: Path, key: str, graph: Path, seqs: list, set_name: str, kernels: str,
                 jitter: float = 0.0) -> dict:
    """A graph's tracked boxes over a set, cached per key, set and kernels (an interrupted run resumes)."""
    from droptrack.artifact import atomic_savez
    from droptrack.export.divergence import track_boxes

    cache = work / f"boxes_{key}_{set_name}_{kernels}.npz"
    if not cache.is_file():
        t = time.perf_counter()
        atomic_savez(cache, track_boxes(graph, seqs, jitter_px=jitter))
        print(f"{set_name}: tracked {key} ({time.perf_counter() - t:.0f} s)", flush=True)
    return dict(np.load(cache, allow_pickle=False))


def model_ms(graphs: dict[str, Path], meta, runs: int) -> dict[str, float]:
    """Median model ms of each graph, interleaved rounds on one synthetic template/search pair."""
    from droptrack.export.auto_precision import time_graphs
    from droptrack.export.calibration import calibration_pairs

    return time_graphs(graphs, calibration_pairs(meta, "synth", 8)[0][0], runs)


def main() -> None:
    from droptrack.data import get_sequences
    from droptrack.eval.machine import benchmark_machine
    from droptrack.export.onnx import read_metadata
    from droptrack.export.quantize import Int8Recipe, quantize_int8

    from precision_targets import row

    a = parse()
    t0 = time.perf_counter()
    machine = benchmark_machine()
    kernels = int8_kernels(machine)
    out = a.out or Path(__file__).parent / "results" / "int8_reduce_range" / kernels
    work, fp32 = fp32_graph(a)
    meta = read_metadata(fp32)
    keep = kept_groups(a.keep)
    graphs = {"fp32": fp32}
    for name, kept in (("searched", keep), ("all_int8", ())):
        for bits, rr in (("8bit", False), ("7bit", True)):
            path = work / f"int8_{name}_{bits}.onnx"
            if not path.is_file():
                quantize_int8(fp32, path, meta, [], "none", Int8Recipe("ort", keep=kept, reduce_range=rr))
            graphs[f"{name}_{bits}"] = path
    seqs = get_sequences("synth", Path(a.data), split="val")
    tracked = {**graphs, **({f"fp32_jitter{a.jitter:g}": fp32} if a.jitter > 0 else {})}
    boxes = {name: cached_boxes(work, name, path, seqs, Path(a.data).name, kernels,
                                a.jitter if "jitter" in name else 0.0) for name, path in tracked.items()}
    rows = {k: row(v, boxes["fp32"], seqs) for k, v in boxes.items() if k != "fp32"}
    ms = model_ms(graphs, meta, a.runs)
    report = {"command": "python benchmarks/int8_reduce_range.py --data " + Path(a.data).name + model_args(a)
              + (f" --keep {a.keep}" if a.keep else "") + (f" --jitter {a.jitter:g}" if a.jitter else ""),
              "kernels": kernels, "kept": list(keep),
              "data": Path(a.data).name, "sequences": len(seqs), "frames": sum(len(s) - 1 for s in seqs),
              "rows": rows, "model_ms": ms, "timing_runs": a.runs, "machine": machine,
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "wall_s": round(time.perf_counter() - t0)}
    write_report(out, report, markdown)


def markdown(r: dict) -> str:
    """The report as a table: one row per INT8 graph."""
    lines = [f"# ORT INT8: 7-bit against 8-bit weights ({r['kernels'].upper()} kernels)", "",
             f"Recorded {r['date']} by `{r['command']}` ({r['wall_s']} s). CPU: {r['machine'].get('cpu')} "
             f"[{r['machine'].get('cpu_int8')}]. Data: {r['data']}, {r['sequences']} sequences, {r['frames']} tracked "
             f"frames. Kept set (searched graphs): {', '.join(r['kept'])}.", "",
             "| graph | diverged vs FP32 | where FP32 is on target | mean IoU vs FP32 | ΔAUC [95 % CI] "
             "| model ms (median) |",
             "|---|---|---|---|---|---|", f"| fp32 | | | | | {r['model_ms']['fp32']:.2f} |"]
    for k, v in r["rows"].items():
        d = v["delta_auc_ci"]
        ms = f"{r['model_ms'][k]:.2f}" if k in r["model_ms"] else ""
        lines.append(f"| {k} | {v['divergence']:.2%} | {v['divergence_fp32_on_target']:.2%} "
                     f"({v['frames_fp32_on_target']}) | {v['mean_iou']:.3f} | {d[0]:+.2f} [{d[1]:+.2f}, {d[2]:+.2f}] | "
                     f"{ms} |")
    lines += ["", "fp32_jitterX: the FP32 graph with N(0, X) px added to the state after every frame, the loop's "
              "noise floor (a perturbation of known size, numerics unchanged).",
              f"Model ms: median of {r['timing_runs']} interleaved rounds, ORT 1 thread, one template/search pair."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    run_script(main)
