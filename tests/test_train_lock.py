"""`dt train`'s output-folder lock (`.dt-train.lock`, droptrack.filelock): a run that opened the lock file just as the
run before it ended was refused as if that run were still writing, and on a file system without working locks every
dt train was refused; a finished or killed run's lock file is removed (by it, or by the next run)."""

from __future__ import annotations

import contextlib
import errno
import os

import pytest

from droptrack.data.synth import generate_synth
from droptrack.errors import TrainingError
from droptrack.train.lock import LOCK, OutputLock
from locktools import dt, dt_without_locks, end_between_open_and_lock, killed_holding, refused

TINY = ["--epochs", "1", "--batch-size", "4", "--samples-per-epoch", "8", "--workers", "0", "--device", "cpu"]


def busy(folder) -> str:
    """dt train's refusal when another run holds `folder`'s lock."""
    return (f"another dt train is writing to '{folder}'; wait for it to finish (or stop it) and then run again with "
            "--resume, or pass another --output")


def held(folder) -> contextlib.ExitStack:
    """A run holding `folder`'s lock until the stack is closed."""
    stack = contextlib.ExitStack()
    stack.enter_context(OutputLock()).take(folder)
    return stack


def test_a_lock_removed_by_a_run_that_just_ended_is_taken_again(tmp_path, monkeypatch):
    """B opens `.dt-train.lock`, A ends (removes it, releases), B's flock succeeds on the removed file: B was refused
    as 'another dt train is writing'; it now locks the file at the path, holds it and removes it when done."""
    lock = tmp_path / LOCK
    first = held(tmp_path)   # run A
    calls = end_between_open_and_lock(first, lock, monkeypatch)
    with OutputLock() as mine:   # run B
        mine.take(tmp_path)
        assert lock.exists() and len(calls) == 2   # the second flock: on the file B made at the path
        refused(lambda: held(tmp_path), TrainingError, busy(tmp_path))   # B holds it: C is refused
        assert lock.exists()   # the refused run left B's file alone
    assert len(calls) == 3 and not lock.exists()


def test_a_killed_runs_lock_file_is_reused_and_removed(tmp_path):
    take = f"from droptrack.train.lock import OutputLock\nlock = OutputLock()\nlock.take(Path({str(tmp_path)!r}))"
    killed_holding(take, "lock")
    assert (tmp_path / LOCK).exists()   # kill -9 leaves the file; no process holds it
    with held(tmp_path):   # taken, not refused
        refused(lambda: held(tmp_path), TrainingError, busy(tmp_path))
    assert not (tmp_path / LOCK).exists()


def test_a_lock_file_it_may_not_write_is_locked_read_only(tmp_path, monkeypatch):
    """Another user's lock file left by a killed run (root bypasses permissions, so the refusal is simulated)."""
    (tmp_path / LOCK).write_bytes(b"")
    real = os.open

    def no_write(path, flags, *mode):
        if flags & os.O_RDWR:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, flags, *mode)

    monkeypatch.setattr(os, "open", no_write)
    with held(tmp_path):
        monkeypatch.setattr(os, "open", real)
        refused(lambda: held(tmp_path), TrainingError, busy(tmp_path))
    assert not (tmp_path / LOCK).exists()


@pytest.mark.parametrize("code", ["ENOLCK", "EOPNOTSUPP"])
def test_a_file_system_without_locks_runs_unlocked(tmp_path, monkeypatch, code):
    import fcntl

    def no_locks(fd, op):
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with held(tmp_path), held(tmp_path):   # nothing can tell a running writer: neither is refused
        assert (tmp_path / LOCK).exists()
    assert not (tmp_path / LOCK).exists()


def test_dt_train_on_a_file_system_without_locks_trains_and_leaves_no_lock_file(tmp_path):
    synth = generate_synth(tmp_path / "synth", sequences=2, frames=24, seed=0, size=(160, 120))
    out = tmp_path / "run"
    p = dt_without_locks("ENOLCK", "train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (out / "final.pt").is_file() and not (out / LOCK).exists()


def test_nproc_2_is_refused_by_rank_0_while_the_folder_is_held_and_locks_it_once_when_free(tmp_path):
    """Rank 0 alone writes the folder and takes its lock (a rank 1 taking it too would refuse its own run): a held
    folder is rank 0's one-line refusal (rank 1 only says it stopped); a free one trains and leaves no lock file."""
    synth = generate_synth(tmp_path / "synth", sequences=2, frames=24, seed=0, size=(160, 120))
    out = tmp_path / "run"
    out.mkdir()
    args = ["train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--nproc", "2"]
    with held(out):
        p = dt(*args)
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error: ")]
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert errors[0] == f"error: {busy(out)}", p.stderr
    assert errors[1:] in ([], ["error: rank 1 stopped: another process of this run failed (its error is above)"])
    assert list(out.iterdir()) == []   # nothing written; the lock file was removed by its holder (this test)
    p = dt(*args)
    assert p.returncode == 0, p.stderr
    assert (out / "final.pt").is_file() and not (out / LOCK).exists()
