"""`dt run --resume` after a kill between two journal updates: its end note named only the undecodable frames the
resumed run met itself, not those in the lines the killed run wrote (they read nan in the files it finished), and
said every line it cut off past the journal's word was 'tracked again', undecodable ones included. The note now
lists every undecodable frame of the outputs, and splits the cut lines into those tracked again and those that
could not be decoded again; a resume that stops before them says how many it did not reach."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from helpers import cli, drifting_clip

INIT = "30,22,26,20"
DAMAGED = (3, 10, 25)   # one in the lines the journal vouches for (6), one in those cut off (6..19), one after


def _args(clip: Path, ckpt: Path, out: Path, jsonl: bool) -> list:
    return ["run", clip, "-m", ckpt, "--device", "cpu", "--threads", 1, "--init", INIT, "-o", out / "b.txt",
            *(["--jsonl", out / "b.jsonl"] if jsonl else [])]


@pytest.mark.parametrize("jsonl", [True, False])
def test_resume_names_the_killed_runs_unreadable_frames_and_what_it_tracked_again(tiny_ckpt, tmp_path, jsonl,
                                                                                  monkeypatch):
    import droptrack.runtime.resume as resume
    from droptrack.runtime.run import RunOptions, run

    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 30)
    for k in DAMAGED:
        (clip / f"{k:05d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"broken" * 20)
    out = tmp_path / "o"
    journal = out / ("b.jsonl" if jsonl else "b.txt")
    journal = journal.with_name(journal.name + ".resume.json")
    kept: dict = {}

    class EveryFrame(resume.Journal):   # on disk after every frame: the copy taken at frame 6 vouches for 6
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.every_s = 0.0

    def on_frame(s) -> None:
        if s.frames == 6:
            kept["journal"] = journal.read_text()
        if s.frames == 20:
            os.kill(os.getpid(), signal.SIGINT)

    opts = RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=[INIT], output=str(out / "b.txt"),
                      jsonl=str(out / "b.jsonl") if jsonl else None, device="cpu", threads=1)
    with monkeypatch.context() as m:
        m.setattr(resume, "Journal", EveryFrame)
        first = run(opts, on_frame=on_frame)
    assert first.interrupted and first.frames == 20
    journal.write_text(kept["journal"])   # as a kill between two updates leaves it: 20 lines, vouched for 6
    res = cli(*_args(clip, tiny_ckpt, out, jsonl), "--resume")
    assert res.exit_code == 0, res.output
    assert "could not be decoded and have no box: 3, 10, 25 (0-based)" in res.output, res.output
    assert ("resumed after the 6 frames the resume journal vouched for: the outputs held 20, and the 14 after those "
            "were cut off: 13 of them tracked again, 1 could not be decoded again" in res.output), res.output
    rows = (out / "b.txt").read_text().splitlines()
    assert len(rows) == 30 and [k for k, r in enumerate(rows) if r.split() == ["nan"] * 4] == list(DAMAGED)


def test_the_note_counts_what_a_resume_stopped_before():
    from droptrack.cli.track import resumed_note
    from droptrack.runtime.loop import RunSummary
    from droptrack.runtime.resume_unreadable import retracked_counts

    s = RunSummary(frames=12, resumed=6, retracked=14, unreadable=[10], start=0)   # stopped again at frame 12
    assert retracked_counts(s) == (5, 1, 8)
    assert resumed_note(6, 14, *retracked_counts(s)).endswith(
        "the 14 after those were cut off: 5 of them tracked again, 1 could not be decoded again, 8 not reached "
        "before this run stopped (the journal's later updates were not written: a kill between two, or a full disk)")
    whole = RunSummary(frames=30, resumed=6, retracked=14, unreadable=[25], start=0)
    assert "were cut off and tracked again" in resumed_note(6, 14, *retracked_counts(whole))
