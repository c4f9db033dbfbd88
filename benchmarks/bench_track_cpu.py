"""Baseline: PyTorch eager CPU latency of one `Tracker.track()` step (crop + model + decode), random weights.

Usage: python benchmarks/bench_track_cpu.py [--runs 20] [--out benchmarks/results/track_cpu]
Records the median of >= 20 steps after warm-up for the 384-CE and 256-CE ViT-B models (and the default model's
config) with the machine description and the load average (other jobs share this 2-core machine).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from droptrack.artifact import atomic_write_json, atomic_write_text
from droptrack.eval.machine import benchmark_machine
from droptrack.config import load_config
from droptrack.engine.torch_backend import TorchBackend
from droptrack.model import build_model
from droptrack.runtime.tracker import Tracker
from droptrack.errors import run_script

CONFIGS = ["vitb_384_mae_ce_32x4_ep300", "vitb_256_mae_ce_32x4_ep300", "droptrack_tiny_synth"]


def bench(name: str, runs: int, warmup: int = 3) -> dict:
    """Median/min/p90 ms of track() on a 640x480 frame for a randomly initialised model of config `name`."""
    torch.manual_seed(0)
    cfg = load_config(name)
    tracker = Tracker(TorchBackend(build_model(cfg).eval(), cfg))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    tracker.initialize(frame, [300, 200, 60, 50])
    times = []
    for i in range(warmup + runs):
        tracker.states = [[300.0, 200.0, 60.0, 50.0]]
        t0 = time.perf_counter()
        tracker.track(frame)
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"config": name, "runs": runs, "median_ms": statistics.median(times), "min_ms": times[0],
            "p90_ms": times[int(0.9 * (len(times) - 1))], "model_median_ms": statistics.median(
                list(tracker.backend.latencies_ms)[warmup:])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--out", default="benchmarks/results/track_cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = benchmark_machine()
    rows = [bench(n, args.runs) for n in CONFIGS]
    machine["loadavg_1m_after"] = round(__import__("os").getloadavg()[0], 2)
    out = Path(args.out)
    atomic_write_json(out.with_suffix(".json"), {"machine": machine, "results": rows})
    lines = ["# PyTorch eager CPU: one track() step (baseline)", "",
             f"Machine: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']} "
             f"({machine['torch_threads']} threads); load average {machine['loadavg_1m']} before / "
             f"{machine['loadavg_1m_after']} after (other jobs shared the CPU).", "",
             "| config | step median ms | min ms | p90 ms | model-only median ms |", "|---|---|---|---|---|"]
    lines += [f"| {r['config']} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['p90_ms']:.1f} | "
              f"{r['model_median_ms']:.1f} |" for r in rows]
    cmd = f"python benchmarks/bench_track_cpu.py --runs {args.runs}" + (f" --threads {args.threads}" if args.threads else "")
    lines += ["", f"Command: `{cmd}`"]
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    run_script(main)
