"""A second `dt run` onto the files a running one is writing was told 'the outputs hold an unfinished run (its
journal ...): continue it with the same command and --resume', advice that would write into a live run's files;
only --overwrite or --resume reached 'another dt run or dt serve is writing'. The live writer is named first now."""

from __future__ import annotations

import pytest

import fcntl
import os

from droptrack.errors import InputError
from droptrack.runtime import outlock
from droptrack.runtime.run import RunOptions, run
from helpers import drifting_clip


def test_a_live_writers_files_are_named_busy_not_sent_to_resume(tmp_path, tiny_ckpt):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 6)
    import signal

    out = tmp_path / "b.jsonl"
    opts = RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=["30,22,26,20"], jsonl=str(out), device="cpu",
                      threads=1)
    stop = lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 3 else None   # noqa: E731
    assert run(opts, on_frame=stop).interrupted   # its journal: as a live run's files look from outside
    assert (tmp_path / "b.jsonl.resume.json").is_file()
    fd = os.open(outlock.lock_path(out), os.O_CREAT | os.O_RDWR)   # the live run's lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(InputError, match=r"another dt run or dt serve is writing .*b\.jsonl; wait for it"):
            run(opts)
    finally:
        os.close(fd)
