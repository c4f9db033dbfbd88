"""The tracker a run uses: `resolve_device` (cpu / cuda from --device and the artifact) and `build_tracker` (the
backend by suffix, wrapped in the host Tracker or the DeviceTracker), shared by dt run, serve, eval and bench."""

from __future__ import annotations

import re
import sys

from droptrack.artifact import artifact_format
from droptrack.engine.base import TORCH_IO_BACKENDS, cuda_available, missing_gpu
from droptrack.errors import BackendError, InputError
from droptrack.runtime.backends import embedded_graph_file, load_backend, open_embedded_graph, tracker_ext
from droptrack.runtime.inputs import check_channels, check_device, check_lost_threshold
from droptrack.runtime.track_result import LOST_THRESHOLD
from droptrack.runtime.tracker import Tracker

PRE = ("auto", "host", "device")   # build_tracker's `pre`, dt run's and dt serve's --pre


def resolve_device(device: str | None, artifact: str | None) -> str:
    """cpu / cuda[:N] (any case, lower-cased); None = cuda when available (always for .engine), else cpu. CUDA is
    probed only when it could be used: the probe imports torch wherever a GPU driver is, which --device cpu skips."""
    if device is None:
        return "cuda" if (artifact_format(artifact) == "engine" or cuda_available()) else "cpu"
    text = device.strip().lower()   # any case, as the Python API's check_device takes it
    if not re.fullmatch(r"cpu(:0)?|cuda(:\d+)?", text):
        raise InputError(f"--device '{device}' is not cpu or cuda; pass --device cpu or --device cuda")
    device = "cpu" if text.startswith("cpu") else text
    if device.startswith("cuda") and not cuda_available():
        if artifact_format(artifact) == "engine":   # --device cpu is no way out for an engine
            from droptrack.engine.tensorrt_backend import onnx_instead

            raise BackendError(f"TensorRT engine '{artifact}' needs CUDA, which is not available here; "
                               f"{onnx_instead(artifact)}")
        raise BackendError("--device cuda requested but CUDA is not available here; use --device cpu")
    problem = missing_gpu(device)
    if problem:
        raise InputError(problem)
    return device


def needs_torch(artifact: str | None, device: str, config: str | None = None, pre: str = "auto") -> bool:
    """Whether this run loads torch: all but an ONNX model on the CPU (host Tracker + ONNX Runtime, torch-free), the
    embedded model's shipped graph included (None where `embedded_graph_file` takes it)."""
    if artifact is None and embedded_graph_file(config, device, pre) is not None:
        return False
    return artifact_format(artifact) != "onnx" or device != "cpu"


def embedded_runs_on(device: str) -> str:
    """What a run without a model file runs on `device`, in words (dt doctor's line): the embedded model's shipped
    ONNX Runtime graph where it loads and is the shipped checkpoint's, else the checkpoint in PyTorch, and why."""
    from importlib.util import find_spec

    from droptrack.model.default import embedded_ort_file

    path = embedded_graph_file(None, device)
    backend = open_embedded_graph(path, 1) if path is not None else None
    if backend is not None:
        backend.close()
        return f"ONNX Runtime on cpu ({path.name}, its shipped graph; torch is not loaded)"
    why = ("" if device != "cpu" else "; onnxruntime is not installed" if find_spec("onnxruntime") is None
           else "; its shipped graph is missing from this install" if embedded_ort_file() is None
           else "; its shipped graph does not load here or is not this checkpoint's")
    return f"PyTorch on {device} (its checkpoint{why})"


def build_tracker(artifact: str | None, config: str | None, device: str, pre: str = "auto", threads: int = 0,
                  trust: bool = False, ext: dict | None = None, channels: str = "rgb",
                  lost_threshold: float = LOST_THRESHOLD, init_checks: bool = False, options: bool = False) -> Tracker:
    """Backend by suffix, wrapped in the host (numpy/OpenCV) Tracker or the DeviceTracker.

    `threads`: ONNX Runtime intra-op threads (0 = ORT's default); plan them with `engine.threads.plan_threads`
    and set torch/OpenCV with `apply_threads` first, torch's where `needs_torch` (the embedded graph's torch
    fallback, a damaged or replaced graph, imports torch here: `apply_late_torch` sets it after; no process-wide
    count is changed here). `trust`: `--trust-checkpoint` (legacy pickles). `ext`:
    tracker-extension overrides of the artifact's TEST keys (`runtime.extensions`; `check_options` checks them
    before any work starts). `channels`: 'bgr' for callers passing OpenCV's BGR frames. `lost_threshold`: as
    `load_tracker`'s (results scored under it carry lost=True). `init_checks`: dt run's checks of init boxes, as
    `load_tracker`'s trackers make them (`Tracker`'s; dt run and dt serve make their own, worded for their options).
    `options`: `ext` holds dt run's option values (text, checked by its `check_options`; errors name the options);
    else a Python dict as `load_tracker`'s `ext` (numbers, errors naming its keys)."""
    device, _ = check_device(device), check_channels(channels)   # 'CUDA' must not pick the host Tracker for CUDA
    check_lost_threshold(lost_threshold)
    if pre not in PRE:   # dt run and dt serve check --pre first (`checks.check_tracking_options`), in their wording
        raise InputError(f"pre={pre!r} must be 'auto', 'host' or 'device' (where pre/post-processing runs; 'auto': "
                         "device on CUDA, host on CPU)")
    if artifact_format(artifact) == "engine" and not device.startswith("cuda"):
        raise InputError("TensorRT engines run on CUDA only; pass --device cuda or use the .onnx/.pt model")
    try:
        backend = load_backend(artifact, config, device, threads, trust=trust, pre=pre)
    except ModuleNotFoundError as exc:
        what = {"tensorrt": "TensorRT (pip install tensorrt, or JetPack's python3-libnvinfer)",
                "onnxruntime": "ONNX Runtime (pip install onnxruntime or onnxruntime-gpu)"}
        hint = next((v for k, v in what.items() if k in str(exc.name)), f"module {exc.name}")
        raise BackendError(f"the backend for '{artifact}' is not available: {hint} is missing") from None
    settings = tracker_ext(backend, ext, api=not options)
    if pre == "host" or (pre == "auto" and not (device.startswith("cuda") and backend.name in TORCH_IO_BACKENDS)):
        # (host path: an ONNX model needs no torch)
        return Tracker(backend, settings, channels, lost_threshold, init_checks)
    from droptrack.runtime.device_tracker import DeviceTracker

    return DeviceTracker(backend, device=device, ext=settings, channels=channels,
                         lost_threshold=lost_threshold, init_checks=init_checks)


def pre_used(tracker) -> str:
    """Where `tracker` pre-processes: 'device' (DeviceTracker) or 'host' (what --pre auto resolved to)."""
    dev = sys.modules.get("droptrack.runtime.device_tracker")   # not imported: no DeviceTracker exists (nor torch)
    return "device" if dev is not None and isinstance(tracker, dev.DeviceTracker) else "host"
