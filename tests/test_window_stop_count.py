"""q / Esc in dt run's --show window: the box file and --jsonl already held the frame the key was read on (the window
is the last output), but the summary and the resume journal left it out, so '302 frames' was printed over a 303-line
box file. The frame every output holds is now counted, also when the key comes on the init frame or a damaged one."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.runtime.loop import track_frames
from droptrack.runtime.sinks import Sink
from droptrack.runtime.sources import Frame
from droptrack.runtime.tracker import load_tracker
from droptrack.runtime.window import StopRequested


class Lines(Sink):
    """What a box file would hold: one entry per frame written."""

    def __init__(self):
        self.frames = []

    def write(self, frame, targets, fps=None):
        self.frames.append(frame.index)


class KeyOn(Sink):
    """The window: 'q' read while frame `at` is shown."""

    def __init__(self, at):
        self.at = at

    def write(self, frame, targets, fps=None):
        if frame.index == self.at:
            raise StopRequested


@pytest.mark.parametrize("at, damaged", [(0, None), (3, None), (2, 2)])
def test_the_frame_shown_when_q_is_pressed_is_counted(tiny_ckpt, at, damaged):
    rng = np.random.default_rng(0)
    frames = [Frame(i, i / 10, None if i == damaged else rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))
              for i in range(8)]
    lines, saved = Lines(), []
    tracker = load_tracker(str(tiny_ckpt))
    summary = track_frames(frames, tracker, [[30, 22, 26, 20]], [lines, KeyOn(at)], checkpoint=saved.append)
    assert summary.stopped
    assert lines.frames == list(range(at + 1))
    assert summary.frames == at + 1 and saved[-1] == at + 1


def test_dt_run_says_how_to_continue_after_q(tmp_path, monkeypatch):
    import droptrack.runtime.run as run_module
    from droptrack.runtime.loop import RunSummary
    from helpers import cli

    def stopped_by_q(opts, on_start=None, on_frame=None):   # the run as a q on frame 4 of a file leaves it
        return RunSummary(frames=5, num_targets=1, stopped=True, journal=tmp_path / "b.txt.resume.json")

    monkeypatch.setattr(run_module, "run", stopped_by_q)
    res = cli("run", tmp_path, "--init", "1,2,3,4", "-o", tmp_path / "b.txt", "--save", tmp_path / "v.mp4")
    assert res.exit_code == 0, res.output
    assert ("note: stopped from the window after 5 frames; continue with the same command and --resume but without "
            "--save") in res.output
