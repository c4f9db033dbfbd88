"""`dt train --amp`: whether the training device can autocast to the mode's dtype, checked before any work (torch
itself fails only at the first iteration, or warns and quietly trains in FP32)."""

from __future__ import annotations

import contextlib
import warnings

import torch

from droptrack.errors import TrainingError
from droptrack.train.loop import AMP_DTYPES


def _autocast_refusal(device: torch.device, dtype: torch.dtype) -> str | None:
    """Why torch will not autocast to `dtype` on `device` (its own words), or None when it will."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ctx = torch.autocast(device.type, dtype=dtype)
        except RuntimeError as exc:   # CUDA: 'Current CUDA Device does not support bfloat16. Please switch ...'
            return str(exc).split(". ")[0].strip().rstrip(".")
    if getattr(ctx, "_enabled", True):
        return None
    said = [str(w.message).splitlines()[0] for w in caught]   # other device types: a warning, autocast disabled
    return said[0].rstrip(".") if said else "autocast is not available"


def device_name(device: torch.device) -> str:
    """'cuda (NVIDIA H200)' / 'cpu': the device as a user knows it."""
    if device.type != "cuda":
        return device.type
    try:
        return f"{device} ({torch.cuda.get_device_name(device)})"
    except Exception:   # a name is only a courtesy here
        return str(device)


def check_amp(amp: str, device: torch.device) -> str | None:
    """TrainingError (one line: the mode, the device, why, the fix) when `device` cannot train with --amp `amp`;
    else a note when it only emulates it (bf16 on a GPU older than Ampere: slower than fp16), or None."""
    dtype = AMP_DTYPES.get(amp)
    if dtype is None:
        return None
    # autocast's bfloat16 check asks about the current GPU, which in one process is not yet --device cuda:N (it is
    # set later): `device` is made the current one while torch checks
    with torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext():
        why = _autocast_refusal(device, dtype)
        other = next((m for m, d in AMP_DTYPES.items() if m != amp and _autocast_refusal(device, d) is None),
                     None) if why is not None else None
    if why is not None:
        fix = f"pass --amp {other} (or --amp off)" if other else "pass --amp off"
        raise TrainingError(f"--amp {amp}: {device_name(device)} cannot train in {str(dtype).split('.')[-1]} "
                            f"({why}); {fix}")
    if device.type == "cuda" and amp == "bf16" and not torch.version.hip:   # ROCm GPUs have it
        if torch.cuda.get_device_capability(device) < (8, 0):   # native bfloat16: Ampere (8.0) and newer
            return (f"warning: --amp bf16: {device_name(device)} has no native bfloat16 (compute capability "
                    "below 8.0), so it is emulated and slower than --amp fp16")
    return None
