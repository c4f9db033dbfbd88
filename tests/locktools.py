"""Helpers for the folder-lock tests of `dt train` and `dt export`: a run that ends while the next one is between
opening and locking the lock file, a run killed by SIGKILL while holding it, and `dt` on a file system without
working locks (fcntl.flock failing with the errno such mounts return), each in a process of its own where needed."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, ContextManager

TESTS = Path(__file__).resolve().parent
ENV = {"PYTHONPATH": f"{TESTS.parent}{os.pathsep}{TESTS}", "OMP_NUM_THREADS": "1", "PATH": os.environ["PATH"]}

NO_LOCKS = """\
import errno, fcntl, os, sys
code = getattr(errno, sys.argv[1])
def no_locks(fd, op):   # what flock gives on a mount without working locks (some NFS and FUSE ones)
    raise OSError(code, os.strerror(code))
fcntl.flock = no_locks
sys.argv = ["dt", *sys.argv[2:]]
from droptrack.cli import app
app(prog_name="dt")
"""

KILLED = """\
import os, signal, sys
from pathlib import Path
{setup}
with {hold}:
    print("held", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def dt_without_locks(errno_name: str, *args: object) -> subprocess.CompletedProcess:
    """`dt ARGS` in a process where every fcntl.flock fails with errno `errno_name` (ENOLCK, EOPNOTSUPP)."""
    return subprocess.run([sys.executable, "-c", NO_LOCKS, errno_name, *map(str, args)], capture_output=True,
                          text=True, env=ENV, timeout=300)


def dt(*args: object) -> subprocess.CompletedProcess:
    """`python -m droptrack ARGS` in a process of its own (`dt train --nproc 2` starts the launcher and ranks)."""
    return python_m("droptrack", *args)


def python_m(module: str, *args: object) -> subprocess.CompletedProcess:
    """`python -m MODULE ARGS` in a process of its own (`python -m droptrack.train` is `dt train`)."""
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True, env=ENV,
                          timeout=300)


def killed_holding(setup: str, hold: str) -> None:
    """Run `with HOLD:` (after the SETUP lines) in a child that SIGKILLs itself while inside it, as kill -9 does."""
    p = subprocess.run([sys.executable, "-c", KILLED.format(setup=setup, hold=hold)], capture_output=True, text=True,
                       env=ENV, timeout=120)
    assert p.returncode == -9 and p.stdout == "held\n", (p.returncode, p.stdout, p.stderr)


def end_between_open_and_lock(first: contextlib.ExitStack, lock: Path, monkeypatch) -> list[int]:
    """Patch fcntl.flock so that the next locking call first ends the run held by `first` (it removes `lock` and
    releases it): the acquirer has opened the file but not locked it yet. Returns the list of flock ops seen."""
    real, calls = fcntl.flock, []

    def flock(fd: int, op: int) -> None:
        if op == fcntl.LOCK_UN:   # the first run's own release (the old code's)
            return real(fd, op)
        calls.append(op)
        if len(calls) == 1:   # the acquirer holds the file the first run locked open: the first run ends now
            first.close()
            assert not lock.exists()
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    return calls


def refused(take: Callable[[], ContextManager], error: type[Exception], message: str) -> None:
    """`take()` is refused with exactly `message` (a running writer holds the lock)."""
    try:
        with take():
            pass
    except error as exc:
        assert str(exc) == message, str(exc)
    else:
        raise AssertionError("a second writer was let in")


def refuse_write_opens(monkeypatch) -> Callable[[], None]:
    """Make os.open refuse read-write opens (EACCES), as for another user's lock file (root ignores permissions, so
    the refusal is simulated); returns a function that restores the real os.open."""
    import errno

    real = os.open

    def no_write(path, flags, *mode):
        if flags & os.O_RDWR:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, flags, *mode)

    monkeypatch.setattr(os, "open", no_write)
    return lambda: monkeypatch.setattr(os, "open", real)
