"""CPU thread counts for torch, ONNX Runtime and OpenCV that never oversubscribe the usable cores.

Intra-op threads x worker processes stay <= the cores this process may use (`sched_getaffinity`). Small models
(the embedded default, any model file under SMALL_MODEL_BYTES) get 1 thread: their ops are too short to split,
and on a core shared with another busy process every OpenMP barrier waits for a descheduled thread (measured in
benchmarks/results/threads_cpu.md). `dt run`, `dt serve`, `dt eval` and `dt bench` all resolve `--threads`
here; OMP_NUM_THREADS, when set, is honoured as the default but still capped.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from droptrack.errors import InputError

SMALL_MODEL_BYTES = 25 * 2 ** 20   # ~6M fp32 parameters; the embedded default model is 8.2 MB
MAX_THREADS = 256   # --threads beyond this (or the usable cores, if more) is refused: 999 on 2 cores ran at
                    # 0.4 FPS, with a note only; over 1024 failed OpenCV's decoding and crashed on exit


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def env_threads(env: dict | None = None) -> int | None:
    """OMP_NUM_THREADS as a positive int, or None when unset or not a number."""
    raw = (os.environ if env is None else env).get("OMP_NUM_THREADS", "").strip()
    try:
        n = int(raw.split(",")[0])
    except ValueError:
        return None
    return n if n > 0 else None


def is_small_model(artifact: str | Path | None) -> bool:
    """The embedded default model (None) or a model file under SMALL_MODEL_BYTES."""
    if artifact is None:
        return True
    try:
        return Path(artifact).stat().st_size < SMALL_MODEL_BYTES
    except OSError:
        return False


@dataclass(frozen=True)
class ThreadPlan:
    """Intra-op threads per worker and why (shown by `dt run` / `dt eval`)."""

    threads: int
    reason: str
    oversubscribed: bool = False   # threads x workers > usable cores (only when --threads asks for it)


def check_threads(requested: int | None, usable: int | None = None) -> None:
    """Refuse --threads below 1 or over max(MAX_THREADS, usable cores), one line, before a command's first step."""
    if requested is None:
        return
    usable = usable or usable_cores()
    if requested < 1:
        raise InputError(f"--threads {requested}: use 1 or more")
    if requested > max(MAX_THREADS, usable):
        raise InputError(f"--threads {requested} is more than {max(MAX_THREADS, usable)} (this machine has "
                         f"{usable} usable cores); pass fewer, e.g. --threads {usable}")


def plan_threads(requested: int | None, artifact: str | Path | None = None, workers: int = 1,
                 usable: int | None = None, env: dict | None = None) -> ThreadPlan:
    """Threads per worker: `requested` when given (checked), else OMP_NUM_THREADS or a default, capped so that
    threads x workers <= usable cores; small models default to 1."""
    usable = usable or usable_cores()
    if workers < 1:
        raise InputError(f"--workers {workers}: use 1 or more")
    share = max(1, usable // workers)
    if requested is not None:
        check_threads(requested, usable)
        if requested * workers > usable:
            return ThreadPlan(requested, f"--threads {requested} x {workers} worker(s) > {usable} usable cores: "
                                         "oversubscribed, expect stalls", oversubscribed=True)
        return ThreadPlan(requested, "--threads")
    omp = env_threads(env)
    if omp is not None:
        return ThreadPlan(min(omp, share), f"OMP_NUM_THREADS={omp}, capped at {usable} cores / {workers} worker(s)")
    if is_small_model(artifact):
        return ThreadPlan(1, "small model: 1 thread is fastest and never oversubscribes")
    return ThreadPlan(share, f"{usable} usable cores / {workers} worker(s)")


def _torch():
    """The torch module, or None where it is not installed (the ONNX Runtime path runs without it)."""
    from droptrack.signals import import_torch

    return import_torch()   # a stop while torch starts comes after it, not as an abort


def apply_threads(n: int, torch_too: bool = True) -> tuple[int | None, int]:
    """Set torch intra-op (where torch is installed) and OpenCV threads to `n`; returns the previous (torch, cv2)
    counts (torch's None without torch).

    ONNX Runtime takes its count per session (`load_backend(..., threads=n)`). `torch_too=False` (a run that never
    loads torch) sets torch's count only where torch is already imported, and does not import it (~2 s)."""
    import cv2

    torch = _torch() if torch_too else sys.modules.get("torch")
    old = (None if torch is None else torch.get_num_threads(), cv2.getNumThreads())
    if torch is not None:
        torch.set_num_threads(n)
    cv2.setNumThreads(n)
    return old


def restore_threads(old: tuple[int | None, int]) -> None:
    """Undo `apply_threads`."""
    import cv2

    torch = sys.modules.get("torch") if old[0] is not None else None   # set by apply_threads: imported
    if torch is not None:
        torch.set_num_threads(old[0])
    cv2.setNumThreads(old[1])


def apply_late_torch(n: int, old: tuple[int | None, int] | None) -> tuple[int | None, int] | None:
    """Set torch's count to `n` where a model load imported torch after `apply_threads` left it alone (`old`, what
    that returned, has no torch count; None: the caller restores nothing): the embedded model's torch fallback, where
    its shipped ONNX Runtime graph does not load. Returns what `restore_threads` takes to put torch's count back to
    its default (None: nothing set), so a library caller's process keeps its counts."""
    torch = sys.modules.get("torch")
    if not n or torch is None or (old is not None and old[0] is not None):
        return None
    import cv2

    before = (torch.get_num_threads(), cv2.getNumThreads())
    torch.set_num_threads(n)
    return before


def oversubscription(workers: int = 1, env: dict | None = None, usable: int | None = None,
                     threads_fix: str = "or pass --threads") -> str | None:
    """A warning when OMP_NUM_THREADS x workers (or the workers alone) exceed the usable cores; None when fine.
    `threads_fix`: the warning's last words, naming where --threads is taken (dt doctor itself takes none)."""
    usable = usable or usable_cores()
    if workers > usable:
        return (f"{workers} workers on {usable} usable cores: oversubscribed even at 1 thread each; "
                f"use --workers {usable} or fewer")
    omp = env_threads(env)
    if omp is None or omp * workers <= usable:
        return None
    return (f"OMP_NUM_THREADS={omp} x {workers} worker(s) = {omp * workers} threads on {usable} usable cores: "
            f"oversubscribed (torch ops stall in OpenMP barriers); export OMP_NUM_THREADS={usable // workers} "
            f"{threads_fix}")
