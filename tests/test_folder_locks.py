"""`dt train`'s and `dt export`'s output-folder locks (`.dt-train.lock`, `.dt-export.lock`, both droptrack.filelock):
a run that opened the lock file just as the run before it ended was refused as if that run were still writing, a
killed run's lock file must be reused and removed, another user's lock file is locked read-only, and on a file system
without working locks every run was refused. The commands themselves: tests/test_train_lock.py, test_export_lock.py."""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterator

import pytest

from droptrack.errors import ExportError, TrainingError
from droptrack.export import workdir
from droptrack.train import lock as train_lock
from locktools import end_between_open_and_lock, killed_holding, refuse_write_opens, refused


@contextlib.contextmanager
def _train_holds(folder: Path) -> Iterator[None]:
    with train_lock.OutputLock() as mine:
        mine.take(folder)
        yield


@dataclass(frozen=True)
class Locker:
    """One command's folder lock: its file, error, refusal, how to hold it here and in a child process."""

    lock: str
    error: type[Exception]
    busy: Callable[[Path], str]
    hold: Callable[[Path], ContextManager]
    child: Callable[[Path], tuple[str, str]]


LOCKERS = {
    "train": Locker(train_lock.LOCK, TrainingError,
                    lambda f: (f"another dt train is writing to '{f}'; wait for it to finish (or stop it) and then run "
                               "again with --resume, or pass another --output"),
                    _train_holds,
                    lambda f: (f"from droptrack.train.lock import OutputLock\nlock = OutputLock()\n"
                               f"lock.take(Path({str(f)!r}))", "lock")),
    "export": Locker(workdir.LOCK, ExportError,
                     lambda f: f"another dt export is writing to '{f}'; wait for it to finish or pass another --output",
                     workdir.exclusive,
                     lambda f: ("from droptrack.export.workdir import exclusive", f"exclusive(Path({str(f)!r}))")),
}


@pytest.fixture(params=sorted(LOCKERS))
def locker(request) -> Locker:
    return LOCKERS[request.param]


def test_a_lock_removed_by_a_run_that_just_ended_is_taken_again(locker, tmp_path, monkeypatch):
    """B opens the lock file, A ends (removes it, releases), B's flock succeeds on the removed file: B was refused as
    'another dt ... is writing'; it now locks the file at the path, holds it and removes it when done."""
    lock = tmp_path / locker.lock
    first = contextlib.ExitStack()
    first.enter_context(locker.hold(tmp_path))   # run A
    calls = end_between_open_and_lock(first, lock, monkeypatch)
    with locker.hold(tmp_path):   # run B
        assert lock.exists() and len(calls) == 2   # the second flock: on the file B made at the path
        refused(lambda: locker.hold(tmp_path), locker.error, locker.busy(tmp_path))   # B holds it: C is refused
        assert lock.exists()   # the refused run left B's file alone
    assert len(calls) == 3 and not lock.exists()


def test_a_killed_runs_lock_file_is_reused_and_removed(locker, tmp_path):
    killed_holding(*locker.child(tmp_path))
    assert (tmp_path / locker.lock).exists()   # kill -9 leaves the file; no process holds it
    with locker.hold(tmp_path):   # taken, not refused
        refused(lambda: locker.hold(tmp_path), locker.error, locker.busy(tmp_path))
    assert not (tmp_path / locker.lock).exists()


def test_a_lock_file_it_may_not_write_is_locked_read_only(locker, tmp_path, monkeypatch):
    """Another user's lock file left by a killed run (root bypasses permissions, so the refusal is simulated)."""
    (tmp_path / locker.lock).write_bytes(b"")
    restore = refuse_write_opens(monkeypatch)
    with locker.hold(tmp_path):
        restore()
        refused(lambda: locker.hold(tmp_path), locker.error, locker.busy(tmp_path))
    assert not (tmp_path / locker.lock).exists()


@pytest.mark.parametrize("code", ["ENOLCK", "EOPNOTSUPP"])
def test_a_file_system_without_locks_runs_unlocked(locker, tmp_path, monkeypatch, code):
    import fcntl

    def no_locks(fd, op):
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with locker.hold(tmp_path), locker.hold(tmp_path):   # nothing can tell a running writer: neither is refused
        assert (tmp_path / locker.lock).exists()
    assert not (tmp_path / locker.lock).exists()
