"""The `dt eval` progress display: one bar per running sequence and an overall bar with throughput (FPS) on a
terminal; elsewhere (a log file, nohup, CI) a line as a sequence finishes (at most one per LINE_GAP_S) and a line a minute while
one runs."""

from __future__ import annotations

import sys
import time
from typing import Any, Sequence, TextIO

from droptrack.errors import printable

LOG_PERIOD_S = 60.0   # a line at least this often while a long sequence runs (lines mode)
LINE_GAP_S = 10.0   # lines mode: a finished sequence is a line only this long after the last line (or the start):
#                   a run of short sequences logs at most every 10 s, and a quick run (or quick failure) stays quiet


class EvalProgress:
    """rich Progress on stderr (a no-op when disabled); `update`/`finish` are called from the main process."""

    def __init__(self, todo: Sequence[Any], resumed: int, enabled: bool = True, stream: TextIO | None = None,
                 label: str = ""):
        """`label`: the tracker's name, on the overall bar and every line (dt bench runs one tracker after
        another: its bars and lines said only 'overall' and which sequence, not whose)."""
        self.enabled = enabled
        self._label = printable(label)
        self._stream = stream   # None: stderr
        self.total_frames = sum(len(s) for s in todo)
        self.total_seqs = len(todo) + resumed
        self.done_seqs = resumed
        self.failed = 0
        self._frames: dict[str, int] = {}
        self._finished_frames = 0
        self._tasks: dict[str, Any] = {}
        self._totals: dict[str, int] = {}
        self._finished: set[str] = set()
        self._t0: float | None = None   # first progress message: worker start-up is not tracking time
        self._progress: Any = None
        self._lines: TextIO | None = None   # not a terminal: plain lines here (rich would show nothing until the end)
        self._last_line = 0.0

    def __enter__(self) -> "EvalProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            console = Console(stderr=True) if self._stream is None else Console(file=self._stream)
            if not console.is_terminal:
                self._lines = self._stream or sys.stderr
                self._last_line = time.monotonic()
                return self
            # descriptions hold tracker and sequence names: read as text, not markup or emoji codes
            self._progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                      console=console, transient=False)
            self._progress.start()
            self._overall = self._progress.add_task(self._title(), total=self.total_frames, info="")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _title(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self._label or 'overall'} {self.done_seqs}/{self.total_seqs} seq{failed}"

    def update(self, name: str, done: int, total: int) -> None:
        """A sequence has `done` of `total` frames tracked (late messages of finished sequences are ignored)."""
        if name in self._finished:
            return
        if self._t0 is None:
            self._t0 = time.perf_counter()
        self._frames[name] = done
        self._totals[name] = total
        if self._lines is not None and time.monotonic() - self._last_line >= LOG_PERIOD_S:
            self._line("running: " + ", ".join(f"{n} {f}/{self._totals[n]}" for n, f in self._frames.items()))
        if self._progress is None:
            return
        if name not in self._tasks:
            self._tasks[name] = self._progress.add_task(f"  {printable(name)}", total=total, info="")
        self._progress.update(self._tasks[name], completed=done)
        self._refresh()

    def finish(self, name: str, total: int, failed: bool = False) -> None:
        """A sequence is written (or failed): drop its bar, count it in the overall one."""
        self._finished.add(name)
        so_far = self._frames.pop(name, 0)
        tracked = so_far if failed else total
        self._finished_frames += tracked
        self.total_frames -= total - tracked   # a failed sequence's untracked frames are neither done nor to do
        self.done_seqs += not failed
        self.failed += failed
        if self._lines is not None and time.monotonic() - self._last_line >= LINE_GAP_S:
            self._line(f"{'failed' if failed else 'done'} {name} ({total} frames)")
        if self._progress is None:
            return
        task = self._tasks.pop(name, None)
        if task is not None:
            self._progress.remove_task(task)
        self._refresh()

    def eta_s(self) -> float | None:
        """Seconds left at the throughput so far (None before any frame is tracked)."""
        fps = self.fps
        done = self._finished_frames + sum(self._frames.values())
        return max(self.total_frames - done, 0) / fps if fps > 0 else None

    def _line(self, what: str) -> None:
        """One plain progress line: what happened, sequences and frames so far, FPS and time left."""
        eta = self.eta_s()
        left = "?" if eta is None else f"{eta / 3600:.0f} h" if eta >= 86400 else time.strftime("%H:%M:%S",
                                                                                               time.gmtime(eta))
        done = self._finished_frames + sum(self._frames.values())
        failed = f", {self.failed} failed" if self.failed else ""
        label = f"{self._label} " if self._label else ""
        print(f"[{label}{self.done_seqs}/{self.total_seqs} seq{failed}, {done}/{self.total_frames} frames, "
              f"{self.fps:.1f} FPS, ETA {left}] {printable(what)}", file=self._lines, flush=True)
        self._last_line = time.monotonic()

    @property
    def fps(self) -> float:
        """Frames tracked so far per wall second (all workers together)."""
        elapsed = time.perf_counter() - self._t0 if self._t0 is not None else 0.0
        return (self._finished_frames + sum(self._frames.values())) / elapsed if elapsed > 0 else 0.0

    def _refresh(self) -> None:
        self._progress.update(self._overall, completed=self._finished_frames + sum(self._frames.values()),
                              total=self.total_frames,
                              description=self._title(), info=f"{self.fps:.1f} FPS")
