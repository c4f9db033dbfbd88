"""A file at the resume journal's name (`NAME.resume.json` beside the first streamed output) is removed or trusted
only when it is a dt run journal of those outputs: a user's file or another run's output of that name is refused
in one line and left as it was, while a killed run's real journal still goes with --overwrite."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from droptrack.runtime.run import RunOptions, run
from helpers import cli, drifting_clip, one_line_error

INIT = "30,22,26,20"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return drifting_clip(tmp_path_factory.mktemp("clip"), 12)


def dt_run(clip: Path, ckpt: Path, out: Path, *extra):
    return cli("run", clip, "-m", ckpt, "--device", "cpu", "--init", INIT, "-o", out / "b.txt", *extra)


@pytest.mark.parametrize("extra", [(), ("--overwrite",)])
def test_a_users_file_at_the_journals_name_is_refused_and_kept(clip, tiny_ckpt, tmp_path, extra):
    mine = tmp_path / "b.txt.resume.json"
    mine.write_text('{"notes": "not a journal"}\n')
    line = one_line_error(dt_run(clip, tiny_ckpt, tmp_path, *extra))
    assert str(mine) in line and "not a dt run journal" in line
    assert mine.read_text() == '{"notes": "not a journal"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt.resume.json"]


def test_overwrite_removes_a_killed_runs_journal_but_not_a_users_npz(clip, tiny_ckpt, tmp_path):
    opts = RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=[INIT], output=str(tmp_path / "b.txt"),
                      device="cpu", threads=1)
    run(opts, on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 4 else None)
    assert (tmp_path / "b.txt.resume.json").is_file()
    (tmp_path / "b.txt.resume.notes.npz").write_bytes(b"a user's arrays")   # not a template version
    r = dt_run(clip, tiny_ckpt, tmp_path, "--overwrite")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt", "b.txt.resume.notes.npz"]
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 12


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_at_the_journals_name_is_refused_without_reading_it(clip, tiny_ckpt, tmp_path):
    os.mkfifo(tmp_path / "b.txt.resume.json")   # reading it would wait for a writer forever
    line = one_line_error(dt_run(clip, tiny_ckpt, tmp_path, "--overwrite"))
    assert "not a dt run journal" in line and (tmp_path / "b.txt.resume.json").is_fifo()
