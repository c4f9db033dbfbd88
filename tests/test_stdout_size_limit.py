"""Short commands whose stdout is a file that finds no room (`dt version > f` past `ulimit -f`): the one 'no room left
writing the standard output' line and exit 2, as a command's own output gives. Before: with PYTHONUNBUFFERED set
(container images set it) `dt version` wrote '0.' and exited 0, Python's unbuffered text layer dropping what its
partial write left; `dt version`, `dt --version` and `dt --help` outside any command's error handling printed a
traceback (exit 1); with the default buffering every one, `dt doctor` too, ended with 'Exception ignored' and exit
120 (the buffer's rest failed again in the interpreter's exit flush)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from exec_with import exec_with

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin",
                                reason="RLIMIT_FSIZE on stdout's file (Linux)")


def _limited(args: list[str], limit: int, tmp_path, unbuffered: bool) -> tuple[subprocess.CompletedProcess, bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update({"OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", **({"PYTHONUNBUFFERED": "1"} if unbuffered
                                                                           else {})})
    out = tmp_path / "out.txt"
    with open(out, "wb") as f:
        p = subprocess.run(exec_with([sys.executable, "-B", "-m", "droptrack", *args], file_size=limit), stdout=f,
                           stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=300, env=env)
    return p, out.read_bytes()


def _assert_no_room(p: subprocess.CompletedProcess, written: bytes, limit: int, tmp_path) -> None:
    lines = p.stderr.splitlines()
    assert p.returncode == 2, p.stderr
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"error: no room left writing the standard output (redirected to "
                               f"'{tmp_path / 'out.txt'}') (File too large)"), p.stderr
    assert len(written) == limit


@pytest.mark.parametrize("unbuffered", [True, False], ids=["PYTHONUNBUFFERED", "buffered"])
@pytest.mark.parametrize("args", [["version"], ["--version"], ["--help"], ["run", "--help"], ["doctor"]],
                         ids=" ".join)
def test_a_short_command_past_a_2_byte_limit_says_no_room(args, unbuffered, tmp_path):
    p, written = _limited(args, 2, tmp_path, unbuffered)
    _assert_no_room(p, written, 2, tmp_path)


def test_version_with_no_room_at_all(tmp_path):
    p, written = _limited(["version"], 0, tmp_path, True)
    _assert_no_room(p, written, 0, tmp_path)


@pytest.mark.parametrize("unbuffered", [True, False], ids=["PYTHONUNBUFFERED", "buffered"])
def test_version_with_room_is_whole(unbuffered, tmp_path):
    from droptrack import __version__

    p, written = _limited(["version"], 1 << 20, tmp_path, unbuffered)
    assert (p.returncode, p.stderr, written) == (0, "", f"{__version__}\n".encode())
