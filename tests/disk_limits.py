"""Real write limits for tests: a file-size limit (RLIMIT_FSIZE) on a child process, and a tiny tmpfs."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest


def file_size_limit(limit_bytes: int) -> Callable[[], None]:
    """A `preexec_fn`: no file the child writes may grow past `limit_bytes` (writes beyond fail with EFBIG)."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit then fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return limit


def dt_limited(args: list[str], limit_bytes: int, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m droptrack ARGS` under `file_size_limit(limit_bytes)`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-B", "-m", "droptrack", *args], capture_output=True, text=True,
                          preexec_fn=file_size_limit(limit_bytes), cwd=cwd, timeout=300, env=env)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A `size` tmpfs mounted on `folder` (made here), unmounted after; skips the test where mounting is impossible
    (not root, or a container that may not mount)."""
    folder.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                                        str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)
