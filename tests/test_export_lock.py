"""`dt export`'s output-folder lock (`.dt-export.lock`, droptrack.filelock): an export that opened the lock file just
as the export before it ended was refused as if that export were still writing, and on a file system without
working locks every dt export was refused; a finished or killed export's lock file is removed (by it, or by the next
export)."""

from __future__ import annotations

import contextlib
import errno
import os

import pytest

from droptrack.errors import ExportError
from droptrack.export.workdir import LOCK, exclusive
from locktools import dt_without_locks, end_between_open_and_lock, killed_holding, refused


def busy(out) -> str:
    """dt export's refusal when another export holds `out`'s lock."""
    return f"another dt export is writing to '{out}'; wait for it to finish or pass another --output"


def held(out) -> contextlib.ExitStack:
    """An export holding `out`'s lock until the stack is closed."""
    stack = contextlib.ExitStack()
    stack.enter_context(exclusive(out))
    return stack


def test_a_lock_removed_by_an_export_that_just_ended_is_taken_again(tmp_path, monkeypatch):
    """B opens `.dt-export.lock`, A ends (removes it, releases), B's flock succeeds on the removed file: B was refused
    as 'another dt export is writing'; it now locks the file at the path, holds it and removes it when done."""
    lock = tmp_path / LOCK
    first = held(tmp_path)   # export A
    calls = end_between_open_and_lock(first, lock, monkeypatch)
    with exclusive(tmp_path):   # export B
        assert lock.exists() and len(calls) == 2   # the second flock: on the file B made at the path
        refused(lambda: exclusive(tmp_path), ExportError, busy(tmp_path))   # B holds it: C is refused
        assert lock.exists()   # the refused export left B's file alone
    assert len(calls) == 3 and not lock.exists()


def test_a_killed_exports_lock_file_is_reused_and_removed(tmp_path):
    killed_holding("from droptrack.export.workdir import exclusive", f"exclusive(Path({str(tmp_path)!r}))")
    assert (tmp_path / LOCK).exists()   # kill -9 leaves the file; no process holds it
    with exclusive(tmp_path):   # taken, not refused
        refused(lambda: exclusive(tmp_path), ExportError, busy(tmp_path))
    assert not (tmp_path / LOCK).exists()


def test_a_lock_file_it_may_not_write_is_locked_read_only(tmp_path, monkeypatch):
    """Another user's lock file left by a killed export (root bypasses permissions, so the refusal is simulated)."""
    (tmp_path / LOCK).write_bytes(b"")
    real = os.open

    def no_write(path, flags, *mode):
        if flags & os.O_RDWR:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, flags, *mode)

    monkeypatch.setattr(os, "open", no_write)
    with exclusive(tmp_path):
        monkeypatch.setattr(os, "open", real)
        refused(lambda: exclusive(tmp_path), ExportError, busy(tmp_path))
    assert not (tmp_path / LOCK).exists()


@pytest.mark.parametrize("code", ["ENOLCK", "EOPNOTSUPP"])
def test_a_file_system_without_locks_runs_unlocked(tmp_path, monkeypatch, code):
    import fcntl

    def no_locks(fd, op):
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with exclusive(tmp_path), exclusive(tmp_path):   # nothing can tell a running writer: neither is refused
        assert (tmp_path / LOCK).exists()
    assert not (tmp_path / LOCK).exists()


def test_dt_export_on_a_file_system_without_locks_exports_and_leaves_no_lock_file(tiny_ckpt, tmp_path):
    out = tmp_path / "deploy"
    p = dt_without_locks("EOPNOTSUPP", "export", tiny_ckpt, "--output", out)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (out / "model.onnx").is_file() and not (out / LOCK).exists()
