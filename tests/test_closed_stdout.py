"""Help and version output whose reader closed the pipe (`dt --help | head -1`, `dt --version | true`): a quiet exit
141 (128 + SIGPIPE, as `dt run --jsonl - | head` ends), not exit 1 (Click's and rich's handling of the broken pipe),
which a `set -o pipefail` script took for a failed dt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def dt(args: list[str], reader_gone: bool) -> subprocess.CompletedProcess:
    """`python -m droptrack ARGS` with stdout a pipe: read whole, or whose read end is closed before dt starts (the
    reader has gone whenever dt writes, so every write fails: no race with the reader, unlike a real `| head`)."""
    if not reader_gone:
        return subprocess.run([sys.executable, "-m", "droptrack", *args], capture_output=True, text=True, env=ENV,
                              timeout=120)
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "droptrack", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, env=ENV, timeout=120)
    finally:
        os.close(write)


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["data", "synth", "-h"], ["--version"], ["version"]])
def test_help_and_version_into_a_closed_pipe_exit_141_quietly(args):
    whole = dt(args, reader_gone=False)
    assert whole.returncode == 0 and whole.stdout.strip() and whole.stderr == "", whole.stderr
    cut = dt(args, reader_gone=True)
    assert (cut.returncode, cut.stderr) == (141, ""), cut.stderr


def test_other_exits_are_kept_when_stdout_is_a_closed_pipe():
    """A usage error still says so on stderr with exit 2; only the closed pipe itself is 141."""
    cut = dt(["run", "--no-such-option"], reader_gone=True)
    assert cut.returncode == 2 and cut.stderr.startswith("error: dt run: No such option: --no-such-option"), cut.stderr
