"""ORT INT8 graphs with given kept sets (groups in FP32) on tracking divergence vs the FP32 graph, pooled over
several sets, on this CPU's INT8 kernels (under benchmarks/avx2_dispatch.sh: an AVX2 CPU's), with model time.

    OMP_NUM_THREADS=1 python benchmarks/int8_kept_sets.py --data SET [--data SET ...] --set NAME=g1,g2 [...]

The embedded model's kept set is always a row (K<groups>, from droptrack/weights/*.int8.json); `--set NAME=+g1,g2` adds
to the previous set. Graphs are made once under --work from the checkpoint's FP32 graph (8-bit weights); tracked
boxes are cached per graph, set and kernels, so a rerun resumes. Per set and pooled: diverged frames (IoU < 0.5;
all, and where FP32 is on the target), mean IoU, ΔAUC [paired bootstrap 95 % CI]; then the graphs' model time in
interleaved rounds and the speed-up over FP32. Writes OUT/{table.md,report.json}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from droptrack.errors import run_script  # noqa: E402
from int8_reduce_range import (GRID_KEYS, cached_boxes, fp32_graph, int8_kernels, kept_groups,  # noqa: E402
                               model_ms)
from tracker_keys_option import add_model_options, model_args, parsed_keys, write_report  # noqa: E402


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_options(ap)
    ap.set_defaults(tracker_keys=GRID_KEYS)
    ap.add_argument("--data", action="append", required=True, help="a `dt data synth` folder (repeatable)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=GROUPS",
                    help="a kept set: NAME=g1,g2 or NAME=+g1,g2 (the previous set plus these)")
    ap.add_argument("--runs", type=int, default=100, help="interleaved timing rounds")
    ap.add_argument("--work", type=Path, default=Path("/tmp/droptrack-reduce-range"))
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    a.keys = parsed_keys(ap, a)
    a.sets = {f"K{len(kept_groups(None))}": kept_groups(None)}
    for spec in a.set:
        name, sep, groups = spec.partition("=")
        if not sep or not name:
            ap.error(f"--set {spec!r}: give NAME=g1,g2 or NAME=+g1,g2")
        prev = list(a.sets.values())[-1] if groups.startswith("+") else ()
        a.sets[name] = tuple(dict.fromkeys([*prev, *(g for g in groups.lstrip("+").split(",") if g)]))
    return a


def pooled(rows: dict[str, dict], frames: dict[str, int]) -> dict:
    """Frame-weighted divergence over sets (all frames, and where FP32 is on target)."""
    n = sum(frames.values())
    on = sum(r["frames_fp32_on_target"] for r in rows.values())
    return {"divergence": sum(r["divergence"] * frames[k] for k, r in rows.items()) / n, "frames": n,
            "divergence_fp32_on_target": sum(r["divergence_fp32_on_target"] * r["frames_fp32_on_target"]
                                             for r in rows.values()) / max(on, 1), "frames_fp32_on_target": on}


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
    work, fp32 = fp32_graph(a)
    meta = read_metadata(fp32)
    graphs = {"fp32": fp32}
    for name, kept in a.sets.items():
        path = work / f"{graph_stem(kept)}.onnx"
        if not path.is_file():
            quantize_int8(fp32, path, meta, [], "none", Int8Recipe("ort", keep=kept))
        graphs[name] = path
    per_set, frames = {}, {}
    for data in map(Path, a.data):
        seqs = get_sequences("synth", data, split="val")
        frames[data.name] = sum(len(s) - 1 for s in seqs)
        boxes = {name: cached_boxes(work, "fp32" if name == "fp32" else path.stem, path, seqs, data.name, kernels)
                 for name, path in graphs.items()}
        per_set[data.name] = {k: row(v, boxes["fp32"], seqs) for k, v in boxes.items() if k != "fp32"}
    rows = {k: {"pooled": pooled({d: per_set[d][k] for d in per_set}, frames),
                "sets": {d: per_set[d][k] for d in per_set}, "kept": list(a.sets[k])} for k in a.sets}
    ms = model_ms(graphs, meta, a.runs)
    sets = " ".join(f"--set {s}" for s in a.set)
    report = {"command": "python benchmarks/int8_kept_sets.py " + " ".join(f"--data {Path(d).name}" for d in a.data)
              + f" {sets}" + model_args(a), "kernels": kernels, "rows": rows, "model_ms": ms,
              "speedup": {k: ms["fp32"] / v for k, v in ms.items()}, "timing_runs": a.runs, "frames": frames,
              "machine": machine, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "wall_s": round(time.perf_counter() - t0)}
    write_report(a.out, report, markdown)


def graph_stem(kept: tuple[str, ...]) -> str:
    """The cached graph's file stem: its groups by name, or by count and hash where the names would make the cache
    files' names (stem, prefix and temporary suffix) near a file system's 255 bytes (17 or more of the embedded
    model's 24 groups; K16 keeps its readable name)."""
    import hashlib

    joined = "_".join(sorted(kept)) or "none"
    if len(joined) <= 180:
        return f"int8_{joined}"
    return f"int8_{len(kept)}groups_{hashlib.sha256(joined.encode()).hexdigest()[:12]}"


def markdown(r: dict) -> str:
    """One row per kept set: per-set and pooled divergence, speed."""
    names = list(r["frames"])
    lines = [f"# ORT INT8 kept sets ({r['kernels'].upper()} kernels)", "",
             f"Recorded {r['date']} by `{r['command']}` ({r['wall_s']} s). CPU: {r['machine'].get('cpu')} "
             f"[{r['machine'].get('cpu_int8')}]. Tracked frames: "
             + ", ".join(f"{k} {v}" for k, v in r["frames"].items()) + ".", "",
             "| kept set | groups | " + " | ".join(names) + " | pooled | where FP32 is on target (pooled) | "
             "model ms | speed-up vs FP32 |", "|---|---|" + "---|" * len(names) + "---|---|---|---|",
             f"| FP32 | all | {' | '.join('' for _ in names)} | | | {r['model_ms']['fp32']:.2f} | 1.00x |"]
    for k, v in r["rows"].items():
        p = v["pooled"]
        lines.append(f"| {k} | {len(v['kept'])} | " + " | ".join(f"{v['sets'][d]['divergence']:.2%}" for d in names)
                     + f" | **{p['divergence']:.2%}** | {p['divergence_fp32_on_target']:.2%} "
                     f"({p['frames_fp32_on_target']}) | {r['model_ms'][k]:.2f} | {r['speedup'][k]:.2f}x |")
    lines += ["", "Kept sets: " + "; ".join(f"{k}: {', '.join(v['kept'])}" for k, v in r["rows"].items()),
              f"Model ms: median of {r['timing_runs']} interleaved rounds, ORT 1 thread, one template/search pair."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    run_script(main)
