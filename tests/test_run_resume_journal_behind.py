"""A write failure (a full disk) after the journal's last update: the outputs held 20 frames, the journal vouched
for 1. `--resume` cuts them back to 1 and tracks the rest again, and its note said 'resumed after the 1 frame the
outputs held'; it now says what happened to the 19 frames it cut."""

from __future__ import annotations

import errno
import math
import os

import pytest

from helpers import cli, drifting_clip

INIT = "30,22,26,20"


def _run(clip, ckpt, out, *extra):
    return cli("run", clip, "-m", ckpt, "--device", "cpu", "--threads", 1, "--init", INIT, "-o", out, *extra)


def test_resume_after_a_full_disk_says_what_it_cut(tiny_ckpt, tmp_path, monkeypatch):
    import droptrack.runtime.resume as resume

    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 30)
    (tmp_path / "ref").mkdir()
    assert _run(clip, tiny_ckpt, tmp_path / "ref" / "b.txt").exit_code == 0
    out = tmp_path / "o"
    out.mkdir()
    real_atomic, real_write, done = resume.atomic_write_text, os.write, {"journal": 0, "lines": 0}

    def journal(path, text):   # the disk fills after the journal's first update (the init frame)
        done["journal"] += 1
        if done["journal"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_atomic(path, text)

    def write(fd, data):   # and the box file's 21st line does not fit
        if os.readlink(f"/proc/self/fd/{fd}").endswith("b.txt.part"):
            done["lines"] += 1
            if done["lines"] > 20:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    class Journal(resume.Journal):   # its timed updates (every 0.5 s) wait until the run stops: on a loaded
        def __init__(self, *args, **kwargs):   # machine 20 frames took longer, and the journal's full disk came first
            super().__init__(*args, **kwargs)
            self.every_s = math.inf   # the first update (the init frame) still goes to disk: now - (-inf) >= inf

    if not os.path.exists("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    with monkeypatch.context() as m:
        m.setattr(resume, "Journal", Journal)
        m.setattr(resume, "atomic_write_text", journal)
        m.setattr(os, "write", write)
        full = _run(clip, tiny_ckpt, out / "b.txt")
    # the box file's error, not the journal's (which the disk refused too, in the clean-up after it)
    assert full.exit_code == 2 and "b.txt" in full.output.splitlines()[-1], full.output
    assert "continue with the same command and --resume" in full.output, full.output
    assert len((out / "b.txt.part").read_text().splitlines()) == 20   # unfinished: not moved onto b.txt
    assert not (out / "b.txt").exists()
    res = _run(clip, tiny_ckpt, out / "b.txt", "--resume")
    assert res.exit_code == 0, res.output
    assert "resumed after the 1 frame the outputs held" not in res.output
    assert ("resumed after the 1 frame the resume journal vouched for: the outputs held 20, and the 19 after those "
            "were cut off and tracked again" in res.output), res.output
    assert (out / "b.txt").read_text() == (tmp_path / "ref" / "b.txt").read_text()


def test_resume_where_the_journal_kept_up_says_so():
    from droptrack.cli.track import resumed_note

    assert resumed_note(20, 0) == "resumed after the 20 frames the outputs held"
