"""The output lock of `dt run` / `dt serve` (`.NAME.lock` beside each output): a run that ends removes its lock file
without letting a run that opened it meanwhile go on unlocked or be refused, and a killed run's lock file is reused
and removed by the next run."""

from __future__ import annotations

import contextlib

import pytest

from droptrack.runtime import outlock
from droptrack.runtime.run import RunOptions, run
from helpers import drifting_clip
from locktools import end_between_open_and_lock, refuse_write_opens


def test_a_lock_removed_by_a_run_that_just_ended_is_taken_again(tmp_path, monkeypatch):
    """B opens the lock file, A ends (removes it, releases), B's flock succeeds on the removed file: B was refused
    as if A were still writing; it must lock the file now at the path instead (and remove it when done)."""
    out = tmp_path / "b.jsonl"
    lock = tmp_path / ".b.jsonl.lock"
    first = contextlib.ExitStack()
    first.enter_context(outlock.locked([out]))   # run A
    calls = end_between_open_and_lock(first, lock, monkeypatch)
    with outlock.locked([out]):   # run B
        assert lock.exists() and len(calls) == 2   # the second flock: on the file B made at the path
        monkeypatch.undo()   # the real flock again
        with pytest.raises(Exception, match="another dt run or dt serve is writing .*b.jsonl"):   # B holds it
            with outlock.locked([out]):
                pass
        assert lock.exists()   # the refused one left B's file alone
    assert len(calls) == 2 and not lock.exists()


def test_a_killed_runs_lock_file_is_reused_and_removed(tmp_path):
    """`kill -9` leaves an empty `.NAME.lock` (no process holds it): the next run onto the files takes and removes
    it; one it cannot write (another user's) is locked read-only."""
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 5)
    out = tmp_path / "out"
    out.mkdir()
    for name in (".b.txt.lock", ".b.jsonl.lock"):
        (out / name).write_bytes(b"")
    opts = RunOptions(source=str(clip), init=["30,22,26,20"], output=str(out / "b.txt"),
                      jsonl=str(out / "b.jsonl"), device="cpu", threads=1)
    assert run(opts).frames == 5
    assert sorted(p.name for p in out.iterdir()) == ["b.jsonl", "b.txt"]


def test_a_lock_file_it_may_not_write_is_locked_read_only(tmp_path, monkeypatch):
    """Another user's lock file left by a killed run (root bypasses permissions, so the refusal is simulated)."""
    out = tmp_path / "b.txt"
    lock = tmp_path / ".b.txt.lock"
    lock.write_bytes(b"")
    restore = refuse_write_opens(monkeypatch)
    with outlock.locked([out]):
        restore()
        with pytest.raises(Exception, match="another dt run or dt serve is writing"):
            with outlock.locked([out]):
                pass
    assert not lock.exists()
