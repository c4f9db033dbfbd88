"""SIGTERM and SIGHUP stop `dt train` and `dt data synth` like Ctrl-C (a KeyboardInterrupt the command turns into its
'how to go on' line) instead of killing the process without a word; light (no torch), so `dt data synth` uses it."""

from __future__ import annotations

import contextlib
import os
import signal
import threading


class Stopped(KeyboardInterrupt):
    """SIGTERM (a scheduler, `timeout`, `docker stop`) or SIGHUP (a closed terminal) stopped the command."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_signals():
    """In one process (not under torchrun, whose agent stops the ranks itself) and in the main thread, SIGTERM and
    SIGHUP raise Stopped like Ctrl-C instead of killing the process without a word; an ignored one (nohup) stays."""
    def stop(signum: int, _frame) -> None:
        raise Stopped(signum)

    wanted = [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    single = int(os.environ.get("WORLD_SIZE", "1")) <= 1 and threading.current_thread() is threading.main_thread()
    old = {s: signal.signal(s, stop) for s in wanted if single and signal.getsignal(s) is signal.SIG_DFL}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
