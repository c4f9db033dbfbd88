"""dt serve's stop signals (SIGINT, SIGTERM, SIGHUP), handled by one set of handlers from the command's start to its
end, in three phases: before the server runs (the model loading, the source opening, the first lines printed) a
signal raises at once (KeyboardInterrupt for Ctrl-C, `droptrack.signals.Stopped` for the others); while it runs, it ends
the server (uvicorn shuts down, then the outputs are closed); once the outputs close, it is only acknowledged.

Python's own handlers were in place until the server ran: a SIGTERM or SIGHUP there killed the process with the
outputs left as NAME.part, and a SIGINT inherited as ignored (a `&` job of a script, CI runners) was dropped by the
kernel, so a Ctrl-C the instant 'tracking ...' was printed left the server running for good. One sent before these
handlers go in (the imports and option parsing, about 0.5 s) was dropped too: the CLI now blocks an ignored SIGINT
and SIGTERM from its start (`signals.held_while_ignored`) and the handlers unblock them, so it comes in here. An
ignored SIGHUP (`nohup dt serve`) stays ignored, as in `dt run`.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from droptrack.runtime.signals import HANDLED
from droptrack.signals import blocked, hold_again, stop_error, take_held

if TYPE_CHECKING:
    import uvicorn


class StopSignals:
    """Context manager installing the handlers (main thread only; elsewhere it does nothing) and restoring them.
    `serving(server)` starts the phase in which a signal ends the server, `closing()` the one in which the outputs
    close; `signum` is the first signal that came. Leaving the block with an error after a signal that came before
    the server ran raises that signal's stop instead (a Ctrl-C the user gave wins over the error it met: one raised
    inside an extension's code, e.g. pydantic's, came out as that extension's error and a traceback)."""

    def __init__(self) -> None:
        self.signum: int | None = None    # the first stop signal
        self.early: int | None = None     # the first one that came before the server ran (it raised)
        self._server: uvicorn.Server | None = None
        self._closing = self._leaving = False
        self._old: dict[int, object] = {}
        self._blocked: set[int] = set()   # those of its signals that were blocked when it began (held for it)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._leaving:   # the handlers are being put back: noted (raised by __exit__ if nothing was served yet)
            self.signum = self.signum or signum
            if self._server is None and not self._closing:
                self.early = self.early or signum
            return
        if self._closing:   # the outputs are being closed (and renamed): let them close whole
            try:
                print(f"{signal.Signals(signum).name}: closing the outputs, a moment", file=sys.stderr, flush=True)
            except (OSError, ValueError):   # a terminal that went away (SIGHUP): the closing goes on all the same
                pass
            return
        if self.signum is None:
            self.signum = signum
        server = self._server
        if server is None:   # nothing served yet: stop at once
            if self.early is None:
                self.early = signum
            raise stop_error(signum)
        # uvicorn's own handlers replace these for SIGINT / SIGTERM while it runs, and hand the signal back here
        # once it has shut down; before they are in (the event loop starting) and for SIGHUP this ends the server
        if server.should_exit and signum == signal.SIGINT:
            server.force_exit = True   # a second Ctrl-C: open connections are not waited for, as uvicorn does
        server.should_exit = True

    def serving(self, server: uvicorn.Server) -> None:
        """From now on a signal ends `server` (it exits at once if one comes before it runs); a signal that came
        before, whose exception something swallowed (a finalizer, an extension's callback), stops here."""
        if self.early is not None:
            raise stop_error(self.early)
        self._server = server

    def closing(self) -> None:
        """From now on a signal is only acknowledged: the outputs are being closed."""
        self._closing = True

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        try:
            for s in HANDLED:   # SIGINT and SIGTERM also when inherited as ignored: dt serve stops on them anyway
                if s == getattr(signal, "SIGHUP", None) and signal.getsignal(s) == signal.SIG_IGN:
                    continue   # `nohup dt serve`: the server must outlive its terminal, as nohup asked
                self._old[s] = signal.signal(s, self._handle)
            self._blocked = blocked(self._old)   # held until now (`signals.held_while_ignored`): one comes in here
            take_held(self._blocked)
        except BaseException:   # a signal as they went in: the ones in are put back
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._leaving = True   # a signal from here on is only noted (signal.signal runs a pending one first)
        for s, handler in self._old.items():
            signal.signal(s, handler)
        self._old.clear()
        hold_again(self._blocked)   # blocked again, as it found them
        self._blocked = set()
        if self.early is not None and (exc is None or isinstance(exc, Exception)):
            raise stop_error(self.early) from None
