"""`dt data synth` into a folder holding a named pipe where the set keeps its own files (its journal, list.txt,
synth.json) never ended: the journal was written into the pipe, list.txt and the marker were read from it (the
journal's case ignored SIGTERM too: its handler read the pipe again). Each is refused in one line now, nothing
written. And Ctrl-C before the first sequence in an existing folder said sequences were saved there."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import cli

NAMES = [".synth_progress.jsonl", "list.txt", "synth.json"]


@pytest.mark.parametrize("name", NAMES)
def test_a_pipe_at_a_sets_own_file_name_is_refused(tmp_path, name):
    out = tmp_path / "set"
    out.mkdir()
    os.mkfifo(out / name)
    dt = [sys.executable, "-m", "droptrack"]
    proc = subprocess.run([*dt, "data", "synth", str(out), "--sequences", "1", "--frames", "5"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2 and proc.stderr == (
        f"error: '{out / name}' is not a file (a folder, named pipe or broken link) where the set keeps its own file "
        "of that name; move it away, or pass an empty or new folder\n"), proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [name]


def test_ctrl_c_before_the_first_sequence_says_nothing_was_saved(tmp_path, monkeypatch):
    """The journal is written after the lock: a stop between them found no journal (None), read as 'some saved'."""
    from droptrack.data import synth

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(synth, "_write_set", stopped)   # a Ctrl-C as the set starts, before its journal
    out = tmp_path / "set"
    out.mkdir()
    res = cli("data", "synth", out, "--sequences", "2", "--frames", "5")
    assert res.exit_code == 130
    assert "interrupted before any sequence was saved: nothing saved; run the same command to start" in res.output
    assert "finished sequences are saved" not in res.output
