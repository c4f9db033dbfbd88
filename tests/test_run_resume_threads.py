"""`dt run --resume` with another CPU thread count (--threads, or a changed OMP_NUM_THREADS default) mixed boxes of
two thread counts in one file (their last bits differ, as `dt eval` refuses for the same reason): the journal records
the count on the CPU, another one is refused in one line naming both, and a journal of an earlier droptrack that did
not record it still resumes."""

from __future__ import annotations

import json
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


def _interrupted(clip: Path, ckpt: Path, out: Path) -> None:
    """A run with 1 thread stopped (SIGINT) after 5 frames: its journal stays beside `out`."""
    opts = RunOptions(source=str(clip), artifact=str(ckpt), init=[INIT], output=str(out), device="cpu", threads=1)
    run(opts, on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 5 else None)
    assert out.read_text().count("\n") == 5


def test_resume_with_another_thread_count_is_refused_naming_both(clip, tiny_ckpt, tmp_path):
    out = tmp_path / "b.txt"
    _interrupted(clip, tiny_ckpt, out)
    args = ["run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, "-o", out, "--resume"]
    line = one_line_error(cli(*args, "--threads", "2"))
    assert "--threads 1" in line and "--threads 2" in line, line
    assert out.read_text().count("\n") == 5   # left as it was
    r = cli(*args, "--threads", "1")
    assert r.exit_code == 0, r.output
    assert out.read_text().count("\n") == 12


def test_a_journal_without_a_thread_count_still_resumes(clip, tiny_ckpt, tmp_path):
    out = tmp_path / "b.txt"
    _interrupted(clip, tiny_ckpt, out)
    journal = out.with_name("b.txt.resume.json")
    data = json.loads(journal.read_text())
    assert data["identity"]["compute"].pop("threads") == 1   # as an earlier droptrack wrote it
    journal.write_text(json.dumps(data))
    r = cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, "-o", out, "--resume", "--threads", "2")
    assert r.exit_code == 0, r.output
    assert out.read_text().count("\n") == 12
