"""Per-frame latency of `dt run` (default model, CPU) with 1 vs all-core intra-op threads, with and without a
competing busy process pinned to one core.

Each case runs `droptrack.runtime.run.run` (the function behind `dt run`) in a fresh child process over
bikes.mp4 and records the wall time between consecutive frames (capture + pre + infer + post + output).
`threads=2` is what torch picked by default on this 2-core machine before `--threads` existed; `default` is
what `dt run` picks now (engine.threads.plan_threads, OMP_NUM_THREADS unset). The busy process is
`while True: pass`, pinned to the last usable core. Because the machine is shared, each case also records how
much CPU the machine's other processes used while it ran (from /proc/stat, minus this benchmark's own
children), so "idle" says how idle it really was. Writes benchmarks/results/threads_cpu.{json,md}. Usage:
    python benchmarks/bench_threads_cpu.py [--frames 150] [--backend torch|onnx] [--cases default,1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from droptrack.errors import run_script

RESULTS = Path(__file__).parent / "results"
CLK = os.sysconf("SC_CLK_TCK")


def child(args) -> None:
    """Run dt run's library function and print per-frame intervals (ms) as JSON on the last line."""
    from droptrack.runtime.run import RunOptions, run

    stamps: list[float] = []
    opts = RunOptions(source=args.video, artifact=args.model, init=[args.init], device="cpu",
                      max_frames=args.frames + 1, threads=None if args.threads == "default" else int(args.threads))
    summary = run(opts, on_frame=lambda s: stamps.append(time.perf_counter()))
    import torch

    print(json.dumps({"intervals_ms": list(np.diff(stamps) * 1000.0), "torch_threads_after": torch.get_num_threads(),
                      "frames": summary.frames}))


def busy_jiffies() -> int:
    """All CPUs' non-idle time so far (clock ticks)."""
    vals = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(vals) - vals[3] - vals[4]   # minus idle and iowait


def run_case(args, threads: str, busy: bool, model: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    hog = None
    if busy:
        core = max(os.sched_getaffinity(0))
        spin = f"import os; os.sched_setaffinity(0, {{{core}}})\nwhile True: pass"
        hog = subprocess.Popen([sys.executable, "-c", spin])
        time.sleep(0.5)
    cmd = [sys.executable, __file__, "--child", "--threads", threads, "--frames", str(args.frames),
           "--video", args.video, "--init", args.init] + (["--model", model] if model else [])
    before_ticks, before_self = busy_jiffies(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    if hog is not None:
        hog.kill()
        hog.wait()
    after_ticks, after_self = busy_jiffies(), resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"child failed: {out.stderr[-2000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    own = (after_self.ru_utime + after_self.ru_stime) - (before_self.ru_utime + before_self.ru_stime)
    others = max(0.0, (after_ticks - before_ticks) / CLK - own) / wall   # cores used by other processes
    iv = np.asarray(res["intervals_ms"])
    return {"threads": threads, "busy": busy, "frames": len(iv), "p50_ms": float(np.median(iv)),
            "p99_ms": float(np.percentile(iv, 99)), "mean_ms": float(iv.mean()), "wall_s": wall,
            "other_processes_cores": others, "loadavg_1m_after": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", default="default")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--backend", default="torch", choices=("torch", "onnx"))
    ap.add_argument("--cases", default=f"default,1,{len(os.sched_getaffinity(0))}", help="--threads values to run")
    ap.add_argument("--model", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--video", default=None)
    ap.add_argument("--init", default=None)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    from droptrack.data.media import bundled_video
    from droptrack.eval.machine import benchmark_machine
    from droptrack.runtime.sources import open_source

    args.video = str(bundled_video("bikes.mp4"))
    with open_source(args.video) as src:
        h, w = next(iter(src)).image.shape[:2]
    args.init = f"{w * 0.4:.1f},{h * 0.35:.1f},{w * 0.12:.1f},{h * 0.25:.1f}"
    res = {"machine": benchmark_machine(), "backend": args.backend, "frames": args.frames, "cases_arg": args.cases,
           "cases": []}
    with tempfile.TemporaryDirectory() as tmp:
        model = None
        if args.backend == "onnx":
            from droptrack.export.pipeline import export_onnx
            from droptrack.model.default import default_checkpoint

            model = str(export_onnx(default_checkpoint(), output_dir=Path(tmp)).path)
        for busy in (False, True):
            for threads in args.cases.split(","):
                c = run_case(args, threads, busy, model)
                res["cases"].append(c)
                print(f"busy={busy!s:5s} threads={threads:7s} p50 {c['p50_ms']:7.2f} ms  p99 {c['p99_ms']:8.2f} ms  "
                      f"others used {c['other_processes_cores']:.2f} cores", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "threads_cpu" + ("_onnx" if args.backend == "onnx" else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(res, indent=2) + "\n")
    write_markdown(res, RESULTS / f"{name}.md")
    print(f"wrote {RESULTS / name}.md")


def write_markdown(res: dict, path: Path) -> None:
    m = res["machine"]
    lines = [f"# `dt run` per-frame latency vs threads, with and without a busy process ({res['backend']})", "",
             f"Command: `python benchmarks/bench_threads_cpu.py --backend {res['backend']} --frames {res['frames']} "
             f"--cases {res['cases_arg']}`. "
             f"Machine: {m['cpu']}, {m['usable_cores']} usable cores, torch {m['torch']}, onnxruntime "
             f"{m['onnxruntime']}; default model (droptrack_tiny_synth) on bikes.mp4, one target, no outputs; "
             "OMP_NUM_THREADS unset in the child. `other cores` = CPU the machine's other processes used during "
             "the case (this machine is shared by 8 engineers and a training job, so 'no busy process' is not "
             "idle); the busy process itself is not counted there.", "",
             "| busy process | --threads | frames | p50 ms | p99 ms | mean ms | other cores | load 1m after |",
             "|---|---|---|---|---|---|---|---|"]
    for c in res["cases"]:
        lines.append(f"| {'yes' if c['busy'] else 'no'} | {c['threads']} | {c['frames']} | {c['p50_ms']:.2f} | "
                     f"{c['p99_ms']:.2f} | {c['mean_ms']:.2f} | {c['other_processes_cores']:.2f} | "
                     f"{c['loadavg_1m_after']:.1f} |")
    lines += ["", "`default` = no --threads (1 for the default model); the all-core row is torch's own default "
              "before `--threads` existed.", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    run_script(main)
