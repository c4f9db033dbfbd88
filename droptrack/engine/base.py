"""Backend: validated `infer()` over `_infer()`, with per-call latency (Polygraphy runner style).

Latency is host time around `_infer()`, except where a backend returns before its device work is done
(TensorRT with torch CUDA inputs, torch on CUDA): there `_infer()` leaves a `DeviceTiming` (two CUDA events) that is
resolved when `latencies_ms` is read, so timing never adds a sync to the tracking loop.
"""

from __future__ import annotations

import os
import sys
import time
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from droptrack.artifact import ArtifactMeta
from droptrack.errors import BackendError

OUTPUT_NAMES = ("score_map", "size_map", "offset_map")
TORCH_IO_BACKENDS = ("torch", "tensorrt")   # backends that take and return torch tensors (the DeviceTracker's)
INPUT_NAMES = ("template", "search")
LATENCY_WINDOW = 10_000   # infer() times kept at least (benchmarks time a few hundred); at most twice that


# device nodes a CUDA (or ROCm, which torch also calls "cuda") GPU needs on Linux: NVIDIA's driver, WSL's GPU
# paravirtualisation, Jetson's integrated GPU, AMD's compute driver
GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/dev/nvmap", "/dev/nvhost-ctrl-gpu", "/dev/nvgpu",
                    "/dev/kfd")


def gpu_driver_present() -> bool:
    """Whether a GPU driver may be here: on Linux, one of its device nodes exists; elsewhere assumed. Without one
    torch can see no GPU, so a CPU machine learns that without importing torch (about 2 s of start-up)."""
    if not sys.platform.startswith("linux"):
        return True
    return any(os.path.exists(node) for node in GPU_DEVICE_NODES)


def cuda_available() -> bool:
    """Whether torch sees a CUDA device; False without a GPU driver or without torch (torch not imported then)."""
    if not gpu_driver_present():
        return False
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def missing_gpu(device: str) -> str | None:
    """Why 'cuda:N' names no GPU of this machine (N past the CUDA devices torch sees), or None (any other device, or
    a GPU that exists): torch and ONNX Runtime only fail on it later, torch with a traceback on the first copy."""
    head, _, index = str(device).partition(":")
    if head != "cuda" or not index.isdigit():
        return None
    import torch

    count = torch.cuda.device_count()
    if int(index) < count:
        return None
    return f"--device {device} does not exist here ({count} CUDA device(s)); pass --device cuda:0"


class DeviceTiming:
    """A pending device-side latency: start/end events (torch.cuda.Event with timing) on one stream."""

    def __init__(self, start, end):
        self.start, self.end = start, end

    def ms(self) -> float:
        """Elapsed milliseconds (waits for the end event)."""
        self.end.synchronize()
        return float(self.start.elapsed_time(self.end))


class Backend(ABC):
    """Runs one model artifact: (template, search) normalised float32 NCHW -> score/size/offset maps."""

    name = "base"
    _closed = False   # `close` was called (the torch backend frees nothing, yet refuses from then on)

    def __init__(self, meta: ArtifactMeta):
        self.meta = meta
        self._latencies: list[float | DeviceTiming] = []
        self._device_timing: DeviceTiming | None = None

    @property
    def latencies_ms(self) -> list[float]:
        """Model-only latency of every `infer()` call in ms (the list itself: `.clear()` resets it); reading it
        resolves pending device timings (waits for them)."""
        self._latencies[:] = [e.ms() if isinstance(e, DeviceTiming) else e for e in self._latencies]
        return self._latencies  # type: ignore[return-value]

    def input_shapes(self, batch: int = 1) -> dict[str, tuple[int, ...]]:
        """Expected input shapes for a batch."""
        z, x = self.meta.template_size, self.meta.search_size
        return {"template": (batch, 3, z, z), "search": (batch, 3, x, x)}

    def infer(self, template: np.ndarray | Any, search: np.ndarray | Any) -> dict:
        """Check names, shapes and dtypes, run, record latency; returns score_map, size_map, offset_map."""
        if self.released:
            raise BackendError(f"the {self.name} model was closed (tracker.close() or the end of a with block); "
                               "load it again (load_tracker(...)) to run it")
        for name, arr in (("template", template), ("search", search)):
            if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):   # a list: AttributeError from below
                raise BackendError(f"input '{name}' is a {type(arr).__name__}, not an array; pass the float32 array "
                                   "(or tensor) preprocess() returned (np.asarray(x, dtype=np.float32) for a list)")
        exp = self.input_shapes(template.shape[0])
        for name, arr in (("template", template), ("search", search)):
            if tuple(arr.shape) != exp[name]:
                raise BackendError(f"input '{name}' has shape {tuple(arr.shape)}, the {self.name} model expects "
                                   f"{exp[name]}; crop with the artifact's sizes")
            if str(arr.dtype) not in ("float32", "torch.float32"):
                raise BackendError(f"input '{name}' has dtype {arr.dtype}, expected float32")
        if template.shape[0] != search.shape[0]:
            raise BackendError("template and search batch sizes differ")
        self._device_timing = None
        t0 = time.perf_counter()
        out = self._infer(template, search)
        self._latencies.append(self._device_timing or (time.perf_counter() - t0) * 1000.0)
        if len(self._latencies) > 2 * LATENCY_WINDOW:   # bounded: a backend may run for weeks
            del self._latencies[:-LATENCY_WINDOW]
        self._check_outputs(out, template.shape[0])
        return out

    def _check_outputs(self, out: dict, batch: int) -> None:
        """The maps a graph or engine from elsewhere returns have the shapes its metadata promises (a graph may
        declare them and return others): else the box decoding fails with a traceback, or reads a wrong map."""
        f = self.meta.feat_size
        for name, channels in zip(OUTPUT_NAMES, (1, 2, 2)):
            got = tuple(getattr(out.get(name), "shape", ()))
            if got != (batch, channels, f, f):
                raise BackendError(f"output '{name}' of the {self.name} model has shape {got}, but its metadata "
                                   f"({self.meta.search_size} px search, stride {self.meta.stride}) needs "
                                   f"{(batch, channels, f, f)}; re-export it with `dt export CHECKPOINT`")

    @abstractmethod
    def _infer(self, template, search) -> dict:
        """Run the model (inputs already validated); set `_device_timing` when returning before the device is
        done."""

    @property
    def device(self) -> str:
        """Where the model runs ('cpu', 'cuda' or 'cuda:N')."""
        return "cpu"

    @property
    def released(self) -> bool:
        """Whether `close` released what `infer` runs on (an ONNX Runtime session, a TensorRT engine; a backend that
        holds nothing to free, the torch one, counts as released once closed, as docs/python.md has it for a shared
        model)."""
        return self._closed

    def close(self) -> None:
        """Release resources (here: mark the backend closed; `infer` then refuses)."""
        self._closed = True

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def to_numpy(x: np.ndarray | Any) -> np.ndarray:
    """Tensor or array -> numpy (host copy when needed)."""
    if isinstance(x, np.ndarray):
        return x
    return x.detach().cpu().numpy()
