"""`dt run --resume` continues only on the device and pre-processing path the killed run used (another one's numbers
differ in the last bits, so two kinds of boxes would mix in one file): refused in one line naming both; `--pre
auto`, which picks the same path, resumes."""

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
    return drifting_clip(tmp_path_factory.mktemp("clip"), 16)


def test_resume_with_another_pre_is_refused_naming_both(clip, tiny_ckpt, tmp_path):
    opts = RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=[INIT], output=str(tmp_path / "b.txt"),
                      device="cpu", pre="host", threads=1)
    run(opts, on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 5 else None)
    args = ["run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, "-o", tmp_path / "b.txt", "--resume"]
    line = one_line_error(cli(*args, "--pre", "device"))
    assert "the killed run tracked with --device cpu --pre host, this one with --device cpu --pre device" in line
    assert (tmp_path / "b.txt").read_text().count("\n") == 5   # left as it was
    r = cli(*args)   # --pre auto: the host path on the CPU, as before
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b.txt").read_text().count("\n") == 16
