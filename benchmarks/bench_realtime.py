"""Which tracker still tracks when frames do not wait: latency-aware AUC (`dt eval --realtime-fps`) of the default
model against OpenCV's classic trackers, at several stream rates.

Usage (from the repository root):
  OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_realtime.py [--data issue11_test] [--fps 15,30,60]
Steps, one machine, 1 thread each:
  1. the offline table of bench_classic.py (`dt eval` of every row, interleaved, resumable): offline AUC and each
     row's median per-frame tracker time, measured side by side;
  2. per stream rate, `dt eval --realtime-fps R --latency-ms <that row's median>` of every row: frames arrive at
     R FPS, a tracker runs on the newest frame when it is free, each frame is scored with the newest box finished
     by its arrival (droptrack.eval.realtime). A fixed latency makes the result reproducible and independent of the
     load while it runs; a tracker's speed enters only through its median time from step 1;
  3. the same with `--predict` (each reported box moved to the frame's time at constant velocity).
Writes OUT/{table.md, summary.json}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_classic import ROWS, dataset, exports, row_specs, run_rows, shown  # noqa: E402
from droptrack.errors import run_script

DEFAULT_ROWS = "onnx_fp32,onnx_int8,csrt,mil,kcf"


def auc_of(result) -> float:
    """Success AUC (fraction) of an EvalResult under the dataset's own protocol."""
    return float(result.report.trackers[0].result.scores()["auc"])


def main() -> None:
    from droptrack.eval.machine import benchmark_machine
    from droptrack.eval.realtime import RealTime
    from droptrack.eval.run import evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    ap.add_argument("--data", default="issue11_test", help="a `dt data synth` folder or a bench_classic.py SETS name")
    ap.add_argument("--trackers", default=DEFAULT_ROWS, help=f"comma-separated rows of {', '.join(ROWS)}")
    ap.add_argument("--fps", default="15,30,60", help="stream rates, comma-separated")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sequences", type=int, default=None, help="only the first N sequences (smoke tests)")
    ap.add_argument("--workdir", default="/tmp/droptrack-classic-bench")
    ap.add_argument("--out", default="benchmarks/results/realtime")
    args = ap.parse_args()
    rows = [r.strip() for r in args.trackers.split(",") if r.strip()]
    bad = [r for r in rows if r not in ROWS]
    rates = [float(r) for r in args.fps.split(",") if r.strip()]
    if bad or not rows or not rates or min(rates) <= 0:
        ap.error(f"--trackers from {', '.join(ROWS)}; --fps positive rates (got {args.trackers!r}, {args.fps!r})")
    t0 = time.perf_counter()
    work = Path(args.workdir)
    folder, made_by = dataset(args.data, work)
    from droptrack.data import get_sequences

    seqs = get_sequences("synth", folder, split=json.loads((folder / "synth.json").read_text())["split"])
    seqs = seqs[:args.sequences] if args.sequences else seqs
    onnx = exports(args.model, work) if any(r.startswith("onnx") for r in rows) else {}
    results = work / f"results_{folder.name}"
    dirs, fps = run_rows(rows, args.model, onnx, seqs, results, args.threads)
    spec = row_specs(args.model, onnx)
    summary = {"data": made_by, "sequences": len(seqs), "frames": sum(len(s) for s in seqs), "rows": {}}
    for row in rows:
        name, (artifact, tracker) = ROWS[row], spec[row]
        offline = evaluate(artifact, seqs, results, workers=1, threads=args.threads, tag="synth", name=name,
                           tracker=tracker, progress=False)          # resumed from step 1: scores only
        ms = 1000.0 / fps[name]
        entry = {"median_ms": ms, "offline_auc": auc_of(offline), "realtime": {}}
        for rate in rates:
            for predict in (False, True):
                rt = RealTime(rate, round(ms, 3), predict)
                r = evaluate(artifact, seqs, results, workers=1, threads=args.threads, tag="synth",
                             name=name + rt.suffix(), tracker=tracker, progress=False, realtime=rt)
                ran = sum(int((t > 0).sum()) for t in r.times.values())
                key = f"{rate:g}" + ("_predict" if predict else "")
                entry["realtime"][key] = {"auc": auc_of(r), "processed": ran / summary["frames"]}
                print(f"{name} @ {key} FPS, {ms:.1f} ms: AUC {auc_of(r):.3f} (offline {entry['offline_auc']:.3f}), "
                      f"ran on {ran / summary['frames']:.0%} of frames", flush=True)
        summary["rows"][name] = entry
    summary.update(machine=benchmark_machine(), wall_s=round(time.perf_counter() - t0),
                   loadavg_end=[round(x, 2) for x in os.getloadavg()],
                   command="OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_realtime.py "
                   + " ".join(shown(a, work) if Path(a).exists() else a for a in sys.argv[1:]))
    write(Path(args.out), summary, rates)


def write(out: Path, s: dict, rates: list[float]) -> None:
    """table.md + summary.json (atomic)."""
    from droptrack.artifact import atomic_write_json, atomic_write_text

    head = ["tracker", "median ms (1 thread)", "offline AUC"] + [f"AUC @ {r:g} FPS (frames run) / predicted"
                                                                  for r in rates]
    lines = [f"# Latency-aware AUC: default model vs OpenCV ({s['data']}; {s['sequences']} sequences, "
             f"{s['frames']} frames)", "",
             f"Recorded {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `{s['command']}` ({s['wall_s']} s; "
             f"load average at the end {s['loadavg_end']}; {s['machine'].get('cpu', '')}).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, e in s["rows"].items():
        cells = [name, f"{e['median_ms']:.1f}", f"{e['offline_auc']:.3f}"]
        cells += [f"{e['realtime'][f'{r:g}']['auc']:.3f} ({e['realtime'][f'{r:g}']['processed']:.0%}) / "
                  f"{e['realtime'][f'{r:g}_predict']['auc']:.3f}" for r in rates]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Real time: frames arrive at the stream's rate; a tracker runs on the newest arrived frame when it "
              "is free and takes its median per-frame time from the offline run (measured side by side, 1 thread); "
              "each frame is scored with the newest box finished by its arrival, so even a tracker faster than the "
              "stream is one frame late (`dt eval --realtime-fps R --latency-ms MS`, droptrack/eval/realtime.py). "
              "(frames run) = share of frames the tracker processed; predicted = with `--predict`: each reported "
              "box moved to the frame's time at the constant velocity of the last two processed boxes' centres."]
    atomic_write_json(out / "summary.json", s)
    atomic_write_text(out / "table.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    run_script(main)
