"""Progress of `dt data synth`: a rich bar on a terminal that moves with every frame rendered and written, and
elsewhere (a log file, nohup, CI) a plain line at least every LOG_PERIOD_S, as `dt eval` does
(droptrack.eval.progress): one long sequence no longer shows nothing for minutes."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from droptrack.errors import printable

LOG_PERIOD_S = 60.0   # lines mode: a line at least this often (a quick run stays quiet), dt eval's period


class SynthProgress:
    """Frames rendered and written out of the set's (each frame counts twice: rendering, then writing)."""

    def __init__(self, enabled: bool, sequences: int, frames: int, label: str, stream: TextIO | None = None,
                 period_s: float | None = None) -> None:
        """Remember the options; the display starts on __enter__ (`stream`: None is stderr; `period_s`: None is
        LOG_PERIOD_S)."""
        self.enabled, self.label, self.frames, self.sequences = enabled, printable(label), frames, sequences
        self.total, self.done, self.done_seqs = 2 * sequences * frames, 0, 0
        self._stream, self._period = stream, LOG_PERIOD_S if period_s is None else period_s
        self._bar: Any = None
        self._task: Any = None
        self._lines: TextIO | None = None
        self._t0 = self._last = 0.0

    def __enter__(self) -> "SynthProgress":
        """Start the bar on a terminal, else plain lines."""
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress, TextColumn

            console = Console(stderr=True) if self._stream is None else Console(file=self._stream)
            self._t0 = self._last = time.monotonic()
            if not console.is_terminal:   # a transient bar there shows nothing but the blank line rich ends it with
                self._lines = self._stream or sys.stderr
                return self
            # rich's default columns, the label read as text (a split or folder name), not markup or emoji codes
            self._bar = Progress(TextColumn("{task.description}", style="progress.description", markup=False),
                                 *Progress.get_default_columns()[1:], console=console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def step(self, name: str, what: str, index: int) -> None:
        """Frame `index` (1-based) of sequence `name` was `what` ('rendered' or 'written')."""
        self._advance(1, f"{name}: frame {index}/{self.frames} {what}")

    def sequence_done(self, name: str, resumed: bool = False) -> None:
        """A sequence is complete (`resumed`: an interrupted run had written it; its frames count at once)."""
        self.done_seqs += 1
        if resumed:
            self._advance(2 * self.frames, f"{name}: kept from the interrupted run")

    def _advance(self, units: int, what: str) -> None:
        """Count `units`; move the bar, or print a line when the period has passed."""
        self.done = min(self.done + units, self.total)
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif self._lines is not None and time.monotonic() - self._last >= self._period:
            elapsed = time.monotonic() - self._t0
            eta = elapsed * (self.total - self.done) / self.done if self.done else None
            left = "?" if eta is None else time.strftime("%H:%M:%S", time.gmtime(min(eta, 86399)))
            print(f"[{self.label} {self.done_seqs}/{self.sequences} seq, {100 * self.done // self.total}%, "
                  f"ETA {left}] {what}", file=self._lines, flush=True)
            self._last = time.monotonic()

    def __exit__(self, *exc: Any) -> None:
        """Stop the bar."""
        if self._bar is not None:
            self._bar.stop()
