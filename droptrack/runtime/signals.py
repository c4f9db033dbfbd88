"""Graceful stop on SIGINT, SIGTERM and SIGHUP: finish the current frame, then end the loop cleanly.

`timeout`, systemd and `docker stop` send SIGTERM; a closed terminal sends SIGHUP (unless it is ignored, as
`nohup` does: then it stays ignored). Once the tracking loop runs
(`StopFlag.armed`), the first signal only sets a flag that the loop reads after each frame (and says so on
stderr), so the frame in flight is written to every output and the outputs are closed properly (the video gets
its index, box files are completed). A second signal raises KeyboardInterrupt at once (for a source that blocks
and never delivers the next frame). Before the loop (a camera or stream still connecting, the model loading) no frame is in flight: the first
signal raises KeyboardInterrupt at once too. Once the loop has ended (`StopFlag.closing`) the outputs are being
closed: a signal then is only acknowledged, since cutting that short would leave a `.part` file unrenamed and a
video without its index (a third Ctrl-C, `timeout`'s SIGTERM after a Ctrl-C; SIGKILL still ends it). So is one
after `run` returned, while `dt run` reports and exits (`AfterRun`, `droptrack.signals.command_signals`): it killed
the process (exit 143 after a Ctrl-C's 130) or ended it with 'interrupted' and no stop line. The CLI
exits with 128 + the signal number (130, 143, 129). A reader of `--jsonl -` that closes the pipe (`| head`) stops
the run the same way, as SIGPIPE (141); no signal is involved (Python ignores SIGPIPE: the write fails instead,
see `sinks.ReaderGone`).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from droptrack.signals import STOPS, blocked, hold_again, noted, stop_error, take_held

SIGPIPE = getattr(signal, "SIGPIPE", 13)   # the reader of --jsonl - went away (exit 141, as shells report it)
HANDLED = STOPS


class StopFlag:
    """Set by a signal handler (or by code); the loop stops after the current frame once it is set."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.armed = False   # set by the tracking loop: from then on a first signal waits for the current frame
        self.closing = False   # set by the tracking loop when it ends: no signal cuts the closing of the outputs

    @property
    def is_set(self) -> bool:
        """Whether a stop was requested."""
        return self.signum is not None

    def set(self, signum: int) -> None:
        """Request a stop, remembering which signal asked for it."""
        self.signum = signum


class AfterRun:
    """The stop signals' handler `dt run` puts around `run` and its report: until the run has ended, the stop the
    signal asks for (none comes here in the run: its own handlers are in); once `graceful_signals` gives the handler
    back with `ended` set (the outputs are closed), only noted, so the report and the exit code stay the run's."""

    def __init__(self) -> None:
        self.ended = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if not self.ended:
            raise stop_error(signum)
        noted(signum, "the run has ended and its outputs are closed; exiting")


class after_run:
    """Context manager putting `AfterRun` in for the stop signals not ignored (main thread only), restoring them."""

    def __init__(self) -> None:
        self._old: dict[int, object] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        handler = AfterRun()
        self._old = {s: signal.signal(s, handler) for s in HANDLED if signal.getsignal(s) != signal.SIG_IGN}

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old.clear()


class graceful_signals:
    """Context manager installing the handlers (main thread only; elsewhere it does nothing) and restoring them."""

    def __init__(self, flag: StopFlag):
        self.flag = flag
        self._old: dict[int, object] = {}
        self._blocked: set[int] = set()   # those of its signals that were blocked when it began (held for it)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.flag.closing:   # the loop is over: let the outputs be closed (and renamed) whole
            noted(signum, "closing the outputs, a moment")
            return
        if self.flag.is_set:
            raise KeyboardInterrupt   # second signal: stop now
        self.flag.set(signum)
        if not self.flag.armed:
            raise KeyboardInterrupt   # no frame in flight yet (connecting, loading): nothing to finish
        # said at once: a source in an outage (--reconnect-timeout) may take long to deliver the current frame
        sys.stderr.write(f"{signal.Signals(signum).name}: stopping after the current frame (send it again to stop "
                         "at once)\n")

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is not threading.main_thread():
            return self.flag
        try:
            for s in HANDLED:   # SIGINT and SIGTERM also when inherited as ignored (a `&` job of a script)
                if s == getattr(signal, "SIGHUP", None) and signal.getsignal(s) == signal.SIG_IGN:
                    continue   # `nohup dt run`: the run must outlive its terminal, as nohup asked
                self._old[s] = signal.signal(s, self._handle)
            # one sent while dt run started (imports, option parsing) was held for these handlers by the CLI
            # (`droptrack.signals.held_while_ignored`; dropped by the kernel before): it comes in here, and raises
            self._blocked = blocked(self._old)
            take_held(self._blocked)
        except BaseException:   # a signal as they went in: the ones in are put back (the caller sees the flag set)
            self.__exit__()
            raise
        return self.flag

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            if isinstance(old, AfterRun):   # the run is over: from here a signal is only noted
                old.ended = True
            signal.signal(s, old)
        self._old.clear()
        hold_again(self._blocked)   # blocked again, as it found them
        self._blocked = set()
