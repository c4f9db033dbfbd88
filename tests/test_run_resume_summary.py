"""The summary line of a resumed `dt run`: it counts every frame the outputs hold, and says that its lost-frame
count (and speed) covers only the frames this run tracked (it read '120 frames, ..., 100 frames with a lost target'
for a run where all 119 tracked frames were lost)."""

from __future__ import annotations

import json
import os
import signal

from droptrack.runtime.run import RunOptions, run, summary_line
from helpers import drifting_clip

INIT = "30,22,26,20"


def test_resumed_summary_names_what_it_counts(tiny_ckpt, tmp_path):
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 60)

    def opts(**kw) -> RunOptions:   # every tracked frame is lost: scores are below 1
        return RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=[INIT], jsonl=str(tmp_path / "b.jsonl"),
                          device="cpu", threads=1, lost_threshold=1.0, **kw)

    first = run(opts(), on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 20 else None)
    assert first.interrupted
    done = first.frames
    second = run(opts(resume=True))
    records = [json.loads(ln) for ln in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert len(records) == second.frames == 60
    lost_here = sum(any(r["lost"]) for r in records[done:])   # the frames this run tracked
    assert lost_here == 60 - done == second.lost_count
    line = summary_line(second)
    assert line.startswith(f"60 frames ({60 - done} tracked after resuming at frame {done})"), line
    assert f"{lost_here} frames with a lost target among those {60 - done}" in line, line


def stopped_at_20_and_resumed(opts, jsonl) -> tuple:
    """A run of `opts()` stopped (SIGINT) after 20 frames, then `opts(resume=True)`: its summary and the records."""
    first = run(opts(), on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 20 else None)
    assert first.interrupted and first.frames == 20
    second = run(opts(resume=True))
    return second, [json.loads(ln) for ln in jsonl.read_text().splitlines()]


def test_resumed_summary_names_the_files_frame_number_after_start(tiny_ckpt, tmp_path):
    """With --start 25 the run went on at frame 25 + 20 of the file, not at 'frame 20'."""
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 60)

    def opts(**kw) -> RunOptions:
        return RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=[INIT], jsonl=str(tmp_path / "b.jsonl"),
                          device="cpu", threads=1, start=25, **kw)

    second, records = stopped_at_20_and_resumed(opts, tmp_path / "b.jsonl")
    assert records[20]["frame"] == 45   # the first frame this run wrote
    assert summary_line(second).startswith("35 frames (15 tracked after resuming at frame 45)"), summary_line(second)


def test_resumed_summary_does_not_count_its_undecodable_frames_as_tracked(tiny_ckpt, tmp_path):
    """Frames 10 and 40 of 60 are damaged; the run is stopped after 20 frames (10 among them) and resumed. The line
    said '40 tracked after resuming at frame 20' and counted lost frames 'among those 40', though frame 40 has no
    box: 39 were tracked, 1 could not be decoded (the killed run's frame 10 is not this run's)."""
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 60)
    for k in (10, 40):
        (clip / f"{k:05d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"broken" * 20)

    def opts(**kw) -> RunOptions:   # every tracked frame is lost: scores are below 1
        return RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=[INIT], jsonl=str(tmp_path / "b.jsonl"),
                          device="cpu", threads=1, lost_threshold=1.0, **kw)

    second, records = stopped_at_20_and_resumed(opts, tmp_path / "b.jsonl")
    assert [r["frame"] for r in records if r.get("unreadable")] == [10, 40]
    assert second.lost_count == 39 == second.tracked   # 60 - 20 - 1
    line = summary_line(second)
    assert line.startswith("60 frames (39 tracked after resuming at frame 20, 1 could not be decoded)"), line
    assert "39 frames with a lost target among those 39;" in line, line
