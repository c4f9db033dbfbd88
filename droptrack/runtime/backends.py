"""The model a tracker runs: `load_backend` (the Backend for an artifact file, chosen by its suffix) and
`tracker_ext` (the artifact's tracker-extension keys with the caller's overrides)."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.util import find_spec
from os import PathLike
from pathlib import Path

from droptrack.artifact import artifact_format, content_problem
from droptrack.engine.base import Backend
from droptrack.errors import InputError
from droptrack.runtime.ext_overrides import merge_overrides
from droptrack.runtime.extensions import TrackerExt
from droptrack.runtime.inputs import check_device, check_path, check_threads


def embedded_graph_file(config: str | PathLike | None, device: str, pre: str = "auto") -> Path | None:
    """The embedded model's shipped ONNX Runtime graph where a run without a model file takes it (on the CPU with
    host pre-processing, no `config` over the weights, onnxruntime installed), else None: torch runs the checkpoint.
    The graph runs the same weights and procedure about 1.4x faster than torch on one CPU thread."""
    if config is not None or str(device).lower() != "cpu" or pre == "device" or find_spec("onnxruntime") is None:
        return None
    from droptrack.model.default import embedded_ort_file   # torch-free

    return embedded_ort_file()


def open_embedded_graph(path: Path, threads: int) -> Backend | None:
    """ONNX Runtime on the shipped graph, or None where it is not the shipped checkpoint's export (a checkpoint
    replaced in the install) or does not load here (an older onnxruntime): torch then runs the checkpoint."""
    from droptrack.artifact import sha256_file
    from droptrack.engine.onnxruntime_backend import OrtBackend
    from droptrack.model.default import default_checkpoint

    try:
        backend = OrtBackend(str(path), device="cpu", threads=threads)
    except Exception:   # onnxruntime's own errors (an op it lacks) included: the checkpoint is the fallback
        return None
    if backend.meta.checkpoint_sha256 != sha256_file(default_checkpoint()):
        backend.close()
        return None
    return backend


def load_backend(artifact: str | PathLike | None = None, config: str | PathLike | None = None, device: str = "cpu",
                 threads: int = 0, trust: bool = False, checked: object | None = None, pre: str = "auto") -> Backend:
    """Backend chosen by the artifact's suffix: checkpoint -> torch, .onnx -> onnxruntime, .engine -> tensorrt.

    `threads`: ONNX Runtime intra-op threads (0 = ORT's default); torch's count is process-wide (`apply_threads`).
    `trust` reads a legacy pickle's foreign objects as inert records (`--trust-checkpoint`); see model.checkpoint.read_file.
    `checked`: the caller's `onnx_files.check_graph` of an .onnx artifact (not parsed again while unchanged).
    None: the embedded model, on the CPU its shipped ONNX Runtime graph (`embedded_graph_file`; `pre`: where the
    tracker pre-processes, 'device' takes torch), else its checkpoint in torch. No process-wide count is set here:
    where the graph is not taken after all (a damaged or replaced file), dt run, serve and eval set torch's after the
    load (`engine.threads.apply_late_torch`), and restore it.
    """
    check_path(artifact, "artifact", "None: the embedded model")
    check_path(config, "config", "a config name or YAML file; None: the checkpoint's own")
    device, threads, kind = check_device(device), check_threads(threads), artifact_format(artifact)
    if config is not None and kind != "torch":
        raise InputError(f"config applies to checkpoints; '{artifact}' is an {kind} model that carries the config it "
                         "was exported with: drop config")
    problem = None if artifact is None else content_problem(artifact)
    if problem:
        raise InputError(f"model {problem}")
    fast = embedded_graph_file(config, device, pre) if artifact is None else None
    backend = open_embedded_graph(fast, threads) if fast is not None else None
    if backend is not None:
        return backend
    if kind == "onnx":
        from droptrack.engine.onnxruntime_backend import OrtBackend

        return OrtBackend(artifact, device=device, threads=threads, checked=checked)
    if kind == "engine":
        from droptrack.engine.tensorrt_backend import TensorRTBackend

        return TensorRTBackend(artifact, device=device if str(device).startswith("cuda") else None)
    from droptrack.engine.torch_backend import TorchBackend

    return TorchBackend.from_checkpoint(artifact, config=config, device=device, trust=trust)


def tracker_ext(backend: Backend, overrides: dict | None = None, api: bool = False) -> TrackerExt:
    """The artifact's extension keys (`meta.tracker`) updated by `overrides` (TEST-style keys, e.g. from options;
    `api`: the Python API's `ext` dict, whose errors name its keys, not dt run's options)."""
    if overrides is not None and not isinstance(overrides, Mapping):
        raise InputError(f"ext is a {type(overrides).__name__}; it must be a dict of tracker-extension keys, e.g. "
                         "{'SIZE_LR': 0.6} (or None: the model's own)")
    return merge_overrides(getattr(backend.meta, "tracker", None) or {}, overrides, api)


def torch_threads_are(threads: int, backend_name: str) -> bool:
    """Whether a torch backend already runs on `threads` threads (the caller set torch's process-wide count)."""
    if backend_name != "torch":
        return False
    import torch   # loaded: the backend is torch's

    return torch.get_num_threads() == threads


def warn_unused_threads(threads: int, backend: Backend) -> None:
    """`load_tracker(threads=n)` on a model that does not take them (torch unless torch already runs on n threads,
    TensorRT): a UserWarning naming the fix; silently ignored before, the caller's limit did nothing."""
    if threads and backend.name != "onnxruntime" and not torch_threads_are(threads, backend.name):
        import warnings

        fix = (f"call torch.set_num_threads({threads}) (process-wide) or export an .onnx model with `dt export`"
               if backend.name == "torch" else "it runs on the GPU")
        warnings.warn(f"threads={threads} sets ONNX Runtime's threads; this {backend.name} model does not take "
                      f"them: {fix}", UserWarning, stacklevel=3)
