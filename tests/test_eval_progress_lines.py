"""dt eval's progress where stderr is not a terminal (a log file, nohup, CI): plain lines as sequences finish and
while a long one runs, with counts and time left (the live bars print nothing there until the run ends)."""

import io
import re

from droptrack.eval import progress
from droptrack.eval.progress import EvalProgress


class _Seq:
    def __init__(self, name: str, n: int):
        self.name, self.n = name, n

    def __len__(self) -> int:
        return self.n


def test_lines_when_not_a_terminal(monkeypatch) -> None:
    out = io.StringIO()
    with EvalProgress([_Seq("long", 10), _Seq("short", 4)], resumed=1, stream=out) as display:
        display.update("long", 5, 10)
        assert out.getvalue() == ""   # no line before a minute has passed
        monkeypatch.setattr(progress, "LOG_PERIOD_S", 0.0)
        monkeypatch.setattr(progress, "LINE_GAP_S", 0.0)
        display.update("long", 6, 10)
        display.finish("long", 10)
        display.finish("short", 4, failed=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"\[1/3 seq, 6/14 frames, [\d.]+ FPS, ETA (\d\d:\d\d:\d\d|\?)\] running: long 6/10", lines[0])
    assert re.fullmatch(r"\[2/3 seq, 10/14 frames, [\d.]+ FPS, ETA (\d\d:\d\d:\d\d|\?)\] done long \(10 frames\)",
                        lines[1])
    assert re.fullmatch(r"\[2/3 seq, 1 failed, 10/10 frames, [\d.]+ FPS, ETA (00:00:00|\?)\] failed short \(4 frames\)",
                        lines[2])


def test_a_failed_sequence_counts_only_its_tracked_frames(monkeypatch) -> None:
    monkeypatch.setattr(progress, "LINE_GAP_S", 0.0)
    out = io.StringIO()
    with EvalProgress([_Seq("a", 100), _Seq("b", 50)], resumed=0, stream=out) as display:
        display.update("a", 20, 100)   # frames 21.. are missing: it fails after 20
        display.finish("a", 100, failed=True)
        assert display.total_frames == 70   # 20 tracked + b's 50; the 80 never tracked are not to do either
        display.update("b", 50, 50)
        display.finish("b", 50)
    assert re.search(r"\[1/2 seq, 1 failed, 70/70 frames, ", out.getvalue().splitlines()[-1])


def test_disabled_prints_nothing() -> None:
    out = io.StringIO()
    with EvalProgress([_Seq("a", 3)], resumed=0, enabled=False, stream=out) as display:
        display.update("a", 3, 3)
        display.finish("a", 3)
    assert out.getvalue() == ""


def test_a_quick_run_stays_quiet() -> None:
    """Sequences that finish (or fail) within LINE_GAP_S of the start print no line: a quick failure stays the one
    error line dt eval ends with; a long run still logs (the tests above)."""
    out = io.StringIO()
    with EvalProgress([_Seq("a", 3), _Seq("b", 3)], resumed=0, stream=out) as display:
        display.update("a", 3, 3)
        display.finish("a", 3, failed=True)
        display.finish("b", 3)
    assert out.getvalue() == ""
