"""PyTorch backend: a checkpoint (official or droptrack) run eagerly on CPU or CUDA."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from droptrack.config import Config, meta_from_config
from droptrack.engine.base import Backend, DeviceTiming, missing_gpu
from droptrack.errors import BackendError


class TorchBackend(Backend):
    """Eager PyTorch; accepts numpy or torch inputs, returns tensors on the model's device."""

    name = "torch"

    def __init__(self, model, cfg: Config, device: str = "cpu", checkpoint_sha256: str = "",
                 allow_tf32: bool = False):
        """`allow_tf32`: let CUDA run this model's matmuls and convolutions in TF32 (10-bit mantissa products) as
        torch's process-wide settings say; off by default, so that FP32 on CUDA gives the CPU's boxes."""
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"device '{device}' requested but CUDA is not available here; use the CPU (dt: "
                               "--device cpu; Python: device='cpu')")
        problem = missing_gpu(device)
        if problem:
            raise BackendError(problem)
        super().__init__(meta_from_config(cfg, arch=model.variant, checkpoint_sha256=checkpoint_sha256))
        self.cfg = cfg
        self.model = model.eval().to(device)
        self._device = torch.device(device)
        self.allow_tf32 = allow_tf32

    @classmethod
    def from_checkpoint(cls, path: str | Path | None, config=None, device: str = "cpu",
                        trust: bool = False, allow_tf32: bool = False) -> "TorchBackend":
        """Load a checkpoint (None = the embedded default model); `trust` reads a legacy pickle's foreign objects as
        inert records; `allow_tf32` as in the constructor."""
        from droptrack.model.checkpoint import load_tracking_checkpoint
        from droptrack.model.default import default_checkpoint

        path = default_checkpoint() if path is None else path
        model, cfg = load_tracking_checkpoint(path, config, trust=trust)
        return cls(model, cfg, device, allow_tf32=allow_tf32)

    @property
    def device(self) -> str:
        """The model's device with its index ('cpu', 'cuda:1'): a DeviceTracker built on it works on that GPU."""
        return str(self._device)

    @torch.inference_mode()
    def _infer(self, template, search) -> dict:
        """On CUDA the forward is queued and returns before the GPU has run it (it holds no host sync): its latency
        is measured with CUDA events around the copies and the forward (`base.DeviceTiming`), as the TensorRT
        backend's, not as the time to queue it."""
        stream = torch.cuda.current_stream(self._device) if self._device.type == "cuda" else None
        if stream is not None:
            start = torch.cuda.Event(enable_timing=True)
            start.record(stream)
        z = torch.as_tensor(template).to(self._device, non_blocking=True)
        x = torch.as_tensor(search).to(self._device, non_blocking=True)
        with fp32_math(self._device.type == "cuda" and not self.allow_tf32):
            out = self.model(z, x, ce_template_mask=self.model.template_index)
        if stream is not None:
            end = torch.cuda.Event(enable_timing=True)
            end.record(stream)
            self._device_timing = DeviceTiming(start, end)
        return {k: out[k] for k in ("score_map", "size_map", "offset_map")}


# TF32 for matmuls and cuDNN convolutions is read and set through the fp32_precision API where this torch has it
# (reading the legacy flags fails once that API was used), else through the legacy allow_tf32 flags (torch < 2.9)
_PRECISION_API = all(hasattr(k, "fp32_precision")
                     for k in (torch.backends.cuda.matmul, getattr(torch.backends.cudnn, "conv", None)))
_IEEE = ("ieee", "ieee") if _PRECISION_API else (False, False)


def _tf32_state() -> tuple:
    """(matmul, convolution) TF32 settings as the process has them."""
    if _PRECISION_API:
        return torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


def _set_tf32_state(state: tuple) -> None:
    if _PRECISION_API:
        torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision = state
    else:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = state


@contextmanager
def fp32_math(strict: bool) -> Iterator[None]:
    """With `strict`, CUDA matmuls and cuDNN convolutions run in IEEE FP32, not TF32, inside the block; the process's
    own settings are restored on exit.

    torch turns cuDNN's TF32 on by default, which put the patch embedding and the head's convolutions of an "FP32"
    CUDA run in TF32: on an H200, 14 % of the default model's frames left the CPU's boxes (all of them matched with
    TF32 off; benchmarks/results/gpu_nvidia_h200_torch.md)."""
    if not strict:
        yield
        return
    saved = _tf32_state()
    _set_tf32_state(_IEEE)
    try:
        yield
    finally:
        _set_tf32_state(saved)


def as_numpy_outputs(out: dict) -> dict[str, np.ndarray]:
    """Host numpy copies of backend outputs."""
    return {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v) for k, v in out.items()}
