"""The `dt eval` progress display: one bar per running sequence and an overall bar with throughput (FPS)."""

from __future__ import annotations

import time
from typing import Any, Sequence


class EvalProgress:
    """rich Progress on stderr (a no-op when disabled); `update`/`finish` are called from the main process."""

    def __init__(self, todo: Sequence[Any], resumed: int, enabled: bool = True):
        self.enabled = enabled
        self.total_frames = sum(len(s) for s in todo)
        self.total_seqs = len(todo) + resumed
        self.done_seqs = resumed
        self.failed = 0
        self._frames: dict[str, int] = {}
        self._finished_frames = 0
        self._tasks: dict[str, Any] = {}
        self._finished: set[str] = set()
        self._t0: float | None = None   # first progress message: worker start-up is not tracking time
        self._progress: Any = None

    def __enter__(self) -> "EvalProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                      console=Console(stderr=True), transient=False)
            self._progress.start()
            self._overall = self._progress.add_task(self._title(), total=self.total_frames, info="")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _title(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"overall {self.done_seqs}/{self.total_seqs} seq{failed}"

    def update(self, name: str, done: int, total: int) -> None:
        """A sequence has `done` of `total` frames tracked (late messages of finished sequences are ignored)."""
        if name in self._finished:
            return
        if self._t0 is None:
            self._t0 = time.perf_counter()
        self._frames[name] = done
        if self._progress is None:
            return
        if name not in self._tasks:
            self._tasks[name] = self._progress.add_task(f"  {name}", total=total, info="")
        self._progress.update(self._tasks[name], completed=done)
        self._refresh()

    def finish(self, name: str, total: int, failed: bool = False) -> None:
        """A sequence is written (or failed): drop its bar, count it in the overall one."""
        self._finished.add(name)
        self._frames.pop(name, None)
        self._finished_frames += total
        self.done_seqs += not failed
        self.failed += failed
        if self._progress is None:
            return
        task = self._tasks.pop(name, None)
        if task is not None:
            self._progress.remove_task(task)
        self._refresh()

    @property
    def fps(self) -> float:
        """Frames tracked so far per wall second (all workers together)."""
        elapsed = time.perf_counter() - self._t0 if self._t0 is not None else 0.0
        return (self._finished_frames + sum(self._frames.values())) / elapsed if elapsed > 0 else 0.0

    def _refresh(self) -> None:
        self._progress.update(self._overall, completed=self._finished_frames + sum(self._frames.values()),
                              description=self._title(), info=f"{self.fps:.1f} FPS")
