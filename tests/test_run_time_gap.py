"""A damaged MKV whose demuxer skips a cluster fails no read: dt run lost 78 frames without a word and numbered the
frames after them as if none were missing. The largest jump in a file's frame times that no undecodable frame
explains is now named in a note; a variable frame rate's usual pauses (tree.avi: 6.5 periods) and live sources are
not."""

from __future__ import annotations

import math

import numpy as np

from droptrack.runtime.loop import RunSummary, _note_gap
from droptrack.runtime.report import time_gap_note
from droptrack.runtime.sources import Frame

IMAGE = np.zeros((4, 4, 3), np.uint8)


def _run(times: list[float], fps: float = 24.0, expected: int | None = 270, unreadable: tuple = ()) -> RunSummary:
    """The summary of a run over frames at `times` (an index in `unreadable`: a frame that failed to decode)."""
    summary = RunSummary(source_fps=fps, expected=expected)
    summary.last_timestamp, summary.last_index = times[0], 0
    for i, t in enumerate(times[1:], 1):
        if i in unreadable:
            summary.unreadable.append(i)
            continue
        _note_gap(summary, Frame(i, t, IMAGE))
        summary.last_timestamp, summary.last_index = t, i
    return summary


def test_a_silent_jump_is_named_with_the_frames_it_stands_for():
    times = [k / 24 for k in range(37)] + [(k + 78) / 24 for k in range(37, 60)]   # 78 frames gone after frame 36
    note = time_gap_note(_run(times))
    assert note is not None and note.startswith("the source's frame times jump by 3.29 s (about 78 frames at 24 FPS) "
                                                "before frame 37, with no frame failing to decode"), note


def test_pauses_of_a_variable_rate_failed_frames_and_live_sources_are_not_named():
    assert time_gap_note(_run([k * 0.43 for k in range(60)], fps=15.0)) is None          # tree.avi: 6.5 periods
    assert time_gap_note(_run([0.0, 0.04, 0.5, 0.54], fps=24.0)) is None                  # under a second
    failed = [k / 24 for k in range(10)] + [(k + 78) / 24 for k in range(10, 20)]
    assert time_gap_note(_run(failed, unreadable=(10,))) is None   # frames that failed: the capture counts them
    assert time_gap_note(_run([0.0, 5.0, 5.04], expected=None)) is None                   # a camera: no count
    assert math.isnan(RunSummary().last_timestamp)


def test_an_mkv_one_frame_short_of_its_estimated_count_is_not_called_damaged():
    """Matroska stores no frame count: OpenCV's is duration x rate, and an intact MKV 'ended after 70 of the 71
    frames its header announces (a truncated or damaged file?)'. An AVI's count is stored: one frame short is said."""
    from droptrack.runtime.report import ended_early_note

    summary = RunSummary(source_fps=24.0, expected=71, announced=71, frames=70)
    assert ended_early_note(summary, "clip.mkv") is None and ended_early_note(summary, "clip.WEBM") is None
    assert "ended after 70 of the 71 frames" in ended_early_note(summary, "clip.avi")
    summary.frames = 60   # ten short: damage, whatever the container
    assert "ended after 60 of the 71 frames" in ended_early_note(summary, "clip.mkv")


def test_a_resumed_run_names_no_jump_across_the_frames_it_passed_over(tmp_path, tiny_ckpt):
    """Every `dt run --resume` said 'the source's frame times jump by 1.33 s (about 40 frames at 30 FPS) before frame
    40 ... frames a damaged file lost': the first frame it tracks followed the init frame, 40 frames earlier."""
    import os
    import signal

    from droptrack.runtime.report import time_gap_note
    from droptrack.runtime.run import RunOptions, run
    from helpers import drifting_clip

    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 60)
    opts = lambda **kw: RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=["30,22,26,20"],   # noqa: E731
                                   output=str(tmp_path / "b.txt"), device="cpu", threads=1, **kw)
    stop = lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 40 else None   # noqa: E731
    assert run(opts(), on_frame=stop).interrupted
    summary = run(opts(resume=True))
    assert summary.resumed == 40 and summary.frames == 60
    assert summary.time_gap is None and time_gap_note(summary) is None, summary.time_gap
