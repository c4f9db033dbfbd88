"""GPU check that needs no TensorRT: the zero-copy CUDA tracking path with the torch backend.

Usage (on a CUDA machine): python benchmarks/gpu_torch_check.py --out DIR [--frames 100]
The embedded default model runs as `DeviceTracker(TorchBackend(cuda))` with 2 targets on a synthetic validation
sequence (scikit-image photos, so it runs on a bare machine), under torch.cuda.set_sync_debug_mode("warn"). It
records: host syncs per frame, boxes against the same tracker on the CPU (torch FP32) per target, model-only latency with
CUDA events (the backend's own timing), and end-to-end frame time (decode excluded; pre, infer, post, readback).
Writes DIR/gpu_torch_check.{json,md}. TensorRT engines are checked by benchmarks/gpu_check.sh.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from droptrack.data.synth import synth_sequence
from droptrack.engine.torch_backend import TorchBackend
from droptrack.geometry import box_iou
from droptrack.runtime.device_tracker import DeviceTracker
from droptrack.errors import InputError, run_script


def run(frames: int, device: str = "cuda", allow_tf32: bool = False) -> dict:
    """Track 2 targets on CUDA and on the CPU (the same DeviceTracker code); compare boxes, count host syncs, time each
    frame. `allow_tf32`: the CUDA backend runs with torch's TF32 settings (cuDNN TF32 on by default), not IEEE FP32."""
    seq = synth_sequence(0, frames, seed=2, split="val")
    h, w = seq.frames[0].shape[:2]
    inits = [list(map(float, seq.boxes[0])), [w * 0.1, h * 0.1, w * 0.2, h * 0.25]]
    cpu = DeviceTracker(TorchBackend.from_checkpoint(None, device="cpu"), device="cpu")
    gpu = DeviceTracker(TorchBackend.from_checkpoint(None, device=device, allow_tf32=allow_tf32), device=device)
    cuda = device.startswith("cuda")
    cpu.initialize_many(seq.frames[0], inits)
    gpu.initialize_many(seq.frames[0], inits)
    for _ in range(10):  # warm-up on the first frame (kernels, cuDNN/cuBLAS choice); the targets' state is reset after
        gpu.track_many(seq.frames[1])
    gpu.initialize_many(seq.frames[0], inits)
    gpu.backend.latencies_ms.clear()
    ious, e2e, sync_warnings = [], [], 0
    if cuda:
        torch.cuda.synchronize()
    for f in seq.frames[1:]:
        want = cpu.track_many(f)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if cuda:
                torch.cuda.set_sync_debug_mode("warn")
            t0 = time.perf_counter()
            got = gpu.track_many(f)
            e2e.append((time.perf_counter() - t0) * 1e3)
            if cuda:
                torch.cuda.set_sync_debug_mode("default")
        sync_warnings += sum("synchroniz" in str(c.message) for c in caught)
        ious.append([float(box_iou(np.asarray([a.box]), np.asarray([b.box]))[0]) for a, b in zip(want, got)])
    ious = np.asarray(ious)
    per_target = [{"mean": float(ious[:, k].mean()), "min": float(ious[:, k].min()),
                   "diverged_frames_pct": float(100 * (ious[:, k] < 0.5).mean())} for k in range(ious.shape[1])]
    model_ms = np.asarray(list(gpu.backend.latencies_ms)[-len(e2e):], dtype=float)
    return {"gpu": torch.cuda.get_device_name(0) if cuda else "cpu (smoke run)", "torch": torch.__version__, "cuda": torch.version.cuda,
            "frames": len(e2e), "targets": len(inits), "procedure": gpu.ext.describe(),
            "iou_vs_cpu": {"mean": float(ious.mean()), "min": float(ious.min()),
                           "diverged_frames_pct": float(100 * (ious < 0.5).mean()), "per_target": per_target},
            "host_sync_warnings_per_frame": sync_warnings / len(e2e),
            "model_ms": {"p50": float(np.median(model_ms)), "p99": float(np.percentile(model_ms, 99))}
            if model_ms.size else None,
            "e2e_ms": {"p50": float(np.median(e2e)), "p99": float(np.percentile(e2e, 99))}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--device", default="cuda", help="cuda (the check) or cpu (a smoke run of this script)")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("no CUDA device visible; run this on a GPU machine")
    r = run(args.frames, args.device)
    if args.device.startswith("cuda"):  # again with torch's TF32 defaults: what the opt-in allow_tf32 costs
        r["tf32_on"] = run(args.frames, args.device, allow_tf32=True)
        r["tf32_default"] = {"cudnn": torch.backends.cudnn.allow_tf32,
                             "matmul": torch.backends.cuda.matmul.allow_tf32}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_torch_check.json").write_text(json.dumps(r, indent=1))
    md = [f"# CUDA tracking path (torch backend), {r['gpu']}", "",
          f"`python benchmarks/gpu_torch_check.py --frames {args.frames}`; torch {r['torch']}, CUDA {r['cuda']}; "
          f"tracker: {r['procedure']}", "",
          "| check | value |", "|---|---|",
          f"| boxes vs CPU tracker: mean / min IoU | {r['iou_vs_cpu']['mean']:.4f} / {r['iou_vs_cpu']['min']:.4f} |",
          f"| frames diverged (IoU < 0.5) | {r['iou_vs_cpu']['diverged_frames_pct']:.1f} % |",
          "| per target: mean IoU / diverged | " + ", ".join(
              f"{t['mean']:.4f} / {t['diverged_frames_pct']:.1f} %" for t in r["iou_vs_cpu"]["per_target"]) + " |",
          f"| host-sync warnings per frame (sync debug 'warn') | {r['host_sync_warnings_per_frame']:.2f} |",
          "| model-only latency, 2 targets (CUDA events) p50 / p99 | "
          + (f"{r['model_ms']['p50']:.3f} / {r['model_ms']['p99']:.3f} ms |" if r["model_ms"] else "n/a |"),
          f"| end-to-end frame (pre, infer, post, readback) p50 / p99 | {r['e2e_ms']['p50']:.3f} / "
          f"{r['e2e_ms']['p99']:.3f} ms |"]
    if "tf32_on" in r:
        o = r["tf32_on"]["iou_vs_cpu"]
        md.append(f"| with `allow_tf32` (torch's settings: cudnn {r['tf32_default']['cudnn']}, matmul "
                  f"{r['tf32_default']['matmul']}): mean / min IoU, diverged | {o['mean']:.4f} / {o['min']:.4f}, "
                  f"{o['diverged_frames_pct']:.1f} % |")
    (args.out / "gpu_torch_check.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    run_script(main)
