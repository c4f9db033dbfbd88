"""Where a new user's first commands spend CPU: `dt run` on a video with an exported ONNX model (1 thread), `dt demo`.

dt run: a fresh child process per round calls `droptrack.runtime.run.run` (the library call behind `dt run`) with
--output and --jsonl files. A probe in that child (a throwaway process: ONNX Runtime's `InferenceSession.run`
wrapped there, nothing else) sums the main thread's CPU inside `session.run`. Per tracked frame: the main thread's
CPU outside `session.run` (crops, normalisation, the infer wrapper, window/decode/map-back, sinks, resume journal,
stage statistics), inside it, and the other threads' (the decode-ahead thread and FFmpeg's decoder threads) =
process CPU - main thread. Start-up: the child's process CPU from interpreter start to the first frame (`on_start`),
and `python -c "import torch"` alone in another child.
Hann window: `geometry.hann2d` (torch, computed as the official code does) against the same formula in NumPy
(float64 cos rounded to float32), window sizes 1-64: the sizes where the two differ (why an ONNX run imports torch).
dt demo (`--demo-rounds N`): a child runs `droptrack.demo.run_demo` into a fresh folder and reads its process CPU
(all threads) at the log line that starts each step: its imports and checks, synthetic data, export,
bench, video.
Medians over rounds. Writes benchmarks/results/first_use_cpu.{json,md}. Usage:
    nice -n 10 python benchmarks/bench_first_use_cpu.py --model MODEL.onnx --video VIDEO --init x,y,w,h
        [--rounds 3] [--demo-rounds 1]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
TREE = Path(__file__).resolve().parent.parent


def _process_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_child(model: str, video: str, init: str) -> dict:
    """One `run.run` over the video; CPU seconds by part (see the module docstring)."""
    import warnings

    from onnxruntime.capi.onnxruntime_inference_collection import InferenceSession

    from droptrack.runtime.run import RunOptions, run

    warnings.simplefilter("ignore")   # the flat-box note of a dark first frame
    inner, spent = InferenceSession.run, [0.0]

    def timed(self, *a, **k):
        c = time.thread_time()
        try:
            return inner(self, *a, **k)
        finally:
            spent[0] += time.thread_time() - c

    InferenceSession.run = timed   # this child only: the benchmark's probe
    marks: dict[str, float] = {}

    def start(total) -> None:
        spent[0] = 0.0
        marks.update(startup=_process_cpu(), thread=time.thread_time(), process=_process_cpu())

    d = Path(tempfile.mkdtemp(prefix="dt-first-use-"))
    opts = RunOptions(source=video, artifact=model, init=[init], device="cpu", threads=1,
                      output=str(d / "boxes.txt"), jsonl=str(d / "out.jsonl"))
    summary = run(opts, on_start=start)
    main, proc, n = time.thread_time() - marks["thread"], _process_cpu() - marks["process"], summary.frames
    return {"frames": n, "startup_cpu_s": marks["startup"],
            "ms_per_frame": {"main_outside_session_run": (main - spent[0]) * 1e3 / n,
                             "session_run": spent[0] * 1e3 / n, "other_threads": (proc - main) * 1e3 / n,
                             "process": proc * 1e3 / n},
            "boxes": (d / "boxes.txt").read_text()}


def demo_child(out: str) -> dict:
    """`run_demo` into `out`: process CPU (s) of each stage, read at the log line that starts each step."""
    t0 = _process_cpu()
    from droptrack.demo import run_demo

    marks = [_process_cpu() - t0]   # importing droptrack.demo

    def log(line: str) -> None:
        if line.startswith("[") and "/4]" in line[:6]:
            marks.append(_process_cpu() - t0)

    res = run_demo(out, progress=False, log=log)
    marks.append(_process_cpu() - t0)
    names = ["import droptrack.demo", "run_demo's imports and checks", "synthetic data", "export", "bench", "video"]
    if len(marks) != len(names):
        raise RuntimeError(f"expected {len(names)} marks, got {len(marks)}")
    steps = {n: marks[i] - (marks[i - 1] if i else 0.0) for i, n in enumerate(names)}
    return {"cpu_s": steps, "total_cpu_s": marks[-1], "wall_s": res.timings}


def hann_mismatches(sizes: range) -> list[int]:
    """Window sizes where torch's official window and NumPy's correctly rounded one differ in any bit."""
    from droptrack.geometry import hann2d

    bad = []
    for f in sizes:
        k = np.arange(1, f + 1, dtype=np.float32)
        c = np.cos((np.float32(2 * math.pi / (f + 1)) * k).astype(np.float64)).astype(np.float32)
        w = np.float32(0.5) * (np.float32(1.0) - c)
        if not np.array_equal(w.reshape(1, 1, -1, 1) * w.reshape(1, 1, 1, -1), hann2d(f)):
            bad.append(f)
    return bad


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(TREE), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    return env


def _child(args: list[str]) -> dict:
    cmd = [sys.executable, __file__, *args]
    out = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {out.returncode}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _torch_import_cpu() -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "import torch"], env=_env(), check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def markdown(res: dict) -> str:
    med = res["run"]["median"]
    lines = [f"# First use on CPU: `dt run` per frame and start-up, `dt demo` by step ({res['commit']})", "",
             f"Command: `{res['command']}`. Machine: {res['cpu']}, {os.cpu_count()} cores shared with other jobs, "
             f"1 thread (OMP_NUM_THREADS=1, --threads 1), nice 10; load average before {res['load_before']}, after "
             f"{res['load_after']}. {res['rounds']} rounds of `dt run`; boxes identical in every round: "
             f"{res['run']['same_boxes']}.", "",
             f"## `dt run` ({res['run']['frames']} frames), process CPU", "",
             "| part | ms per frame (median) | share |", "|---|---|---|"]
    for k, label in (("session_run", "`session.run` (main thread)"),
                     ("main_outside_session_run", "main thread outside `session.run`"),
                     ("other_threads", "other threads (decode ahead, FFmpeg)"), ("process", "whole process")):
        lines.append(f"| {label} | {med[k]:.3f} | {100 * med[k] / med['process']:.0f} % |")
    lines += ["", f"Start-up to the first frame: {res['run']['startup_cpu_s']:.2f} s CPU (median); "
              f"`python -c \"import torch\"` alone: {res['torch_import_cpu_s']:.2f} s CPU (median).", "",
              f"Hann window sizes 1-64 where torch's window and a correctly rounded NumPy one differ: "
              f"{res['hann_mismatches']} ({len(res['hann_mismatches'])} of 64)."]
    if res.get("demo"):
        d = res["demo"]
        lines += ["", f"## `dt demo` by step, process CPU (all threads), {res['demo_rounds']} run(s), median", "",
                  "| step | CPU s | share |", "|---|---|---|"]
        for k, v in d["cpu_s"].items():
            lines.append(f"| {k} | {v:.1f} | {100 * v / d['total_cpu_s']:.0f} % |")
        lines.append(f"| total | {d['total_cpu_s']:.1f} | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="an exported model.onnx (dt export of the embedded model)")
    p.add_argument("--video", help="a video file")
    p.add_argument("--init", default="300,100,120,150", help="x,y,w,h on its first frame")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--demo-rounds", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "first_use_cpu"), help="results path without suffix")
    p.add_argument("--child", choices=("run", "demo"), help=argparse.SUPPRESS)
    p.add_argument("--demo-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child == "run":
        print(json.dumps(run_child(args.model, args.video, args.init)))
        return 0
    if args.child == "demo":
        print(json.dumps(demo_child(args.demo_dir)))
        return 0
    if not args.model or not args.video:
        p.error("--model and --video are required")
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs, torch_cpu, demos = [], [], []
    for _ in range(args.rounds):
        runs.append(_child(["--child", "run", "--model", args.model, "--video", args.video, "--init", args.init]))
        torch_cpu.append(_torch_import_cpu())
        print(f"dt run: {runs[-1]['ms_per_frame']}", file=sys.stderr, flush=True)
    for _ in range(args.demo_rounds):
        with tempfile.TemporaryDirectory(prefix="dt-first-use-demo-") as tmp:
            demos.append(_child(["--child", "demo", "--demo-dir", str(Path(tmp) / "demo")]))
        print(f"dt demo: {demos[-1]['cpu_s']}", file=sys.stderr, flush=True)
    keys = runs[0]["ms_per_frame"]
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "")
    commit = subprocess.run(["git", "-C", str(TREE), "log", "-1", "--date=short", "--format=%h %ad"],
                            capture_output=True, text=True).stdout.strip()
    res = {"cpu": cpu, "commit": commit, "rounds": args.rounds, "demo_rounds": args.demo_rounds,
           "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
           "command": "python benchmarks/bench_first_use_cpu.py " + shlex.join(
               "MODEL.onnx" if a == args.model else a for a in (argv if argv is not None else sys.argv[1:])),
           "run": {"frames": runs[0]["frames"], "same_boxes": len({r["boxes"] for r in runs}) == 1,
                   "median": {k: float(np.median([r["ms_per_frame"][k] for r in runs])) for k in keys},
                   "startup_cpu_s": float(np.median([r["startup_cpu_s"] for r in runs])),
                   "rounds": [r["ms_per_frame"] for r in runs]},
           "torch_import_cpu_s": float(np.median(torch_cpu)), "hann_mismatches": hann_mismatches(range(1, 65))}
    if demos:
        res["demo"] = {"cpu_s": {k: float(np.median([d["cpu_s"][k] for d in demos])) for k in demos[0]["cpu_s"]},
                       "total_cpu_s": float(np.median([d["total_cpu_s"] for d in demos])),
                       "runs": demos}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
