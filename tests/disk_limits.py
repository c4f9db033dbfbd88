"""Real write limits for tests: a file-size limit (RLIMIT_FSIZE) on a child process (tests/exec_with.py), and a
tiny tmpfs."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from exec_with import exec_with


def dt_limited(args: list[str], limit_bytes: int, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m droptrack ARGS`: no file it writes may grow past `limit_bytes` (writes beyond fail with EFBIG)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(exec_with([sys.executable, "-B", "-m", "droptrack", *args], file_size=limit_bytes),
                          capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


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
