"""The results folder lock of `dt eval` / `dt bench` (`.lock` in the folder): a run that ends removes it, a killed
run's is reused and removed by the next run, and a run that opened the file just before its holder removed it locks
the file at the path instead of going on unlocked or being refused."""

from __future__ import annotations

import contextlib

import pytest

from droptrack.data import generate_synth, get_sequences
from droptrack.errors import InputError
from droptrack.eval import resume
from droptrack.eval.run import evaluate
from locktools import end_between_open_and_lock


def test_eval_removes_its_lock_and_a_killed_runs(tmp_path):
    """A normal exit left `.lock` in every results folder for good; a kill -9 leaves one nobody holds."""
    data = generate_synth(tmp_path / "synth", sequences=1, frames=5, seed=0, size=(96, 72), split="val")
    seqs = get_sequences("synth", data, split="val")
    out = tmp_path / "out"
    res = evaluate(None, seqs, out, progress=False, tracker="kcf", threads=1)
    assert res is not None and not list(out.rglob(".lock"))
    folder = out / "kcf"
    assert sorted(p.name for p in folder.glob("*.txt")) == [f"{seqs[0].name}.txt", f"{seqs[0].name}_time.txt"]
    (folder / ".lock").write_bytes(b"")   # what a killed run leaves: a file no process holds
    res = evaluate(None, seqs, out, progress=False, tracker="kcf", threads=1)
    assert res is not None and res.resumed == [seqs[0].name]   # taken (not refused), then removed
    assert not (folder / ".lock").exists()


def test_a_held_folder_is_refused_and_its_lock_left_alone(tmp_path):
    with resume.locked(tmp_path):
        with pytest.raises(InputError, match=f"another dt eval or dt bench is writing to {tmp_path}"):
            with resume.locked(tmp_path):
                pass
        assert (tmp_path / ".lock").exists()   # the refused one removed nothing
    assert not (tmp_path / ".lock").exists()


def test_a_lock_removed_by_a_run_that_just_ended_is_taken_again(tmp_path, monkeypatch):
    """B opens `.lock`, A ends (removes it, releases), B's flock succeeds on the removed file: B must not go on
    holding a file no longer at the path (a third run would make a new one and write alongside B); it locks the file
    now at the path instead, and removes it when done."""
    lock = tmp_path / ".lock"
    first = contextlib.ExitStack()
    first.enter_context(resume.locked(tmp_path))   # run A
    calls = end_between_open_and_lock(first, lock, monkeypatch)
    with resume.locked(tmp_path):   # run B
        assert lock.exists() and len(calls) == 2   # the second flock: on the file B made at the path
        monkeypatch.undo()   # the real flock again
        with pytest.raises(InputError, match="another dt eval or dt bench is writing"):   # B holds it: C is refused
            with resume.locked(tmp_path):
                pass
    assert len(calls) == 2 and not lock.exists()
