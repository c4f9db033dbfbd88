"""The stop-signal vocabulary every long command shares (`dt train`, `dt data synth`, `dt eval`, `dt bench`,
`dt demo`, `dt export`, `dt run`, `dt serve`): SIGTERM and SIGHUP stop a command like Ctrl-C (a KeyboardInterrupt the
command turns into its 'how to go on' line) instead of killing the process without a word; SIGINT and SIGTERM
inherited as ignored (a `&` job of a script) are held by the CLI from its start (`held_while_ignored`) and taken by
the command's handlers (`stop_signals`, `take_held`), so a Ctrl-C or `kill -INT` still stops it, at any moment. A
stop while torch starts is deferred to its end (`import_torch`). A leaf (signal, os, threading; torch only in
`import_torch`), so that `runtime`, `engine`, `eval` and `serve` use it without
importing `train`; training's own parts (holding a signal until the iteration is saved: `train.stops.StepHold`)
stay in `train/`."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from types import ModuleType
from typing import Callable, Iterable, Iterator, Protocol, Sequence


# the stop signals: Ctrl-C, a scheduler's or `timeout`'s SIGTERM, a closed terminal's SIGHUP (not on Windows)
STOPS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))

# the dt commands whose handlers take SIGINT and SIGTERM even when inherited as ignored (`runtime.signals`,
# `serve.stops`, `stop_signals`): the CLI holds those signals for them from its start (`held_while_ignored`). The
# long ones whose stop keeps what is done and whose rerun resumes; not `dt analyze` and the other short ones.
HELD_FOR = (("run",), ("serve",), ("eval",), ("bench",), ("train",), ("demo",), ("export",), ("data", "synth"))


def held_for(words: Sequence[str]) -> bool:
    """Whether `dt WORDS...` (the command line after `dt`) runs one of the commands of HELD_FOR."""
    return any(tuple(words[:len(command)]) == command for command in HELD_FOR)


class Stopped(KeyboardInterrupt):
    """SIGTERM (a scheduler, `timeout`, `docker stop`) or SIGHUP (a closed terminal) stopped the command."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def keep_interrupts_from_callbacks() -> None:
    """A stop signal whose KeyboardInterrupt Python raises inside code it cannot raise from (a weakref callback of the
    import system's module locks, a __del__) is printed as 'Exception ignored in: ... KeyboardInterrupt' and then
    lost, so the command neither stays quiet nor stops there. From here such an interrupt is delivered again to the
    main thread, without the print: sys.unraisablehook is Python's hook for exactly these. The signal's handler runs
    again 50 ms later, from a short-lived thread: delivered at once, it would be raised inside this hook, where it
    would be lost the same way. Called at each entry point; a second call changes nothing."""
    import _thread
    import sys

    previous = sys.unraisablehook
    if getattr(previous, "keeps_interrupts", False):
        return

    def hook(unraisable) -> None:
        signum = getattr(unraisable.exc_value, "signum", signal.SIGINT)
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and callable(signal.getsignal(signum)):
            again = threading.Timer(0.05, _thread.interrupt_main, (signum,))   # no-op without a Python handler
            again.daemon = True
            again.start()
            return
        previous(unraisable)

    hook.keeps_interrupts = True   # type: ignore[attr-defined]
    sys.unraisablehook = hook


@contextlib.contextmanager
def deferred(signums: Iterable[int] | None = None, on_signal: Callable[[], None] | None = None) -> Iterator[None]:
    """Within the block, those of `signums` whose handler is a Python function are only noted (and `on_signal`
    called); at its end, also after an error in it, the handlers in place before run for them, in order (the default
    one raises KeyboardInterrupt; dt run's stops after the frame). For native code that calls Python back, where a
    KeyboardInterrupt raised in the callback is dropped (TensorRT's logger) or aborts the process (torch's start).
    Main thread only; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: h for s in (STOPS if signums is None else signums) if callable(h := signal.getsignal(s))}
    noted: list[int] = []

    def note(signum: int, _frame) -> None:
        noted.append(signum)
        if on_signal is not None:
            on_signal()

    for s in before:
        signal.signal(s, note)
    try:
        yield
    finally:   # also when the block failed: a stop the user asked for wins over the error it met
        for s, handler in before.items():
            signal.signal(s, handler)
        for signum in noted:
            before[signum](signum, None)


def import_torch() -> ModuleType | None:
    """torch, imported with stop signals deferred to the import's end (`deferred`), or None where it is not
    installed: torch's start calls Python back from C++, and a KeyboardInterrupt (Ctrl-C, or SIGTERM as dt's
    handlers raise it) raised there aborted the process ('terminate called', exit 134) instead of giving the
    command's stop line. Called before the first import of a module that imports torch."""
    with deferred():
        try:
            import torch
        except ImportError:
            return None
    return torch


def noted(signum: int, what: str) -> None:
    """'SIGTERM: WHAT' on stderr, from a handler that lets the signal pass: a stderr that is gone (a closed terminal's
    SIGHUP) or that the interrupted code was writing to (a reentrant write) loses the line, not the work."""
    import sys

    try:
        sys.stderr.write(f"{signal.Signals(signum).name}: {what}\n")
    except (OSError, ValueError, RuntimeError):
        pass


@contextlib.contextmanager
def command_signals(hold: bool, process: bool) -> Iterator[None]:
    """A CLI command's stop signals: for a long one (`hold`: HELD_FOR), held while ignored (`held_while_ignored`),
    and, where the process ends with the command (the CLI's entry: `process`), ignored from its end on, so that one
    sent while the interpreter exits (0.1-0.3 s with torch loaded) neither kills the process after its stop line
    (exit 143 after a Ctrl-C's 130) nor adds a traceback; SIGKILL still ends it. SIG_IGN, not a Python handler:
    the interpreter's finalization puts those back to SIG_DFL before it unloads the modules. Not in process (a
    test's runner): the handlers stay as they were."""
    with held_while_ignored(hold):
        try:
            yield
        finally:
            if hold and process and threading.current_thread() is threading.main_thread():
                for s in STOPS:
                    signal.signal(s, signal.SIG_IGN)


def stop_error(signum: int) -> KeyboardInterrupt:
    """What a stop signal raises: KeyboardInterrupt for SIGINT (the CLI says 'interrupted'), else Stopped."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)


class Hold(Protocol):
    """What `stop_signals` asks of its `hold` (training's `train.stops.StepHold`)."""

    def take(self, signum: int) -> bool:
        """Whether the signal is held (not raised now)."""


@contextlib.contextmanager
def stop_signals(hold: Hold | None = None) -> Iterator[None]:
    """In one process (not under torchrun, whose agent stops the ranks itself) and in the main thread, SIGTERM and
    SIGHUP raise Stopped like Ctrl-C instead of killing the process without a word; an ignored one (nohup) stays,
    except SIGINT and SIGTERM that the CLI holds for the command (`held_signals`): those are taken (one sent since
    the command started comes in as the block begins), and blocked again at its end. With `hold`, SIGINT too (unless
    ignored or already handled), and a signal `hold` takes is not raised."""
    def stop(signum: int, _frame) -> None:
        if hold is not None and hold.take(signum):
            return
        raise stop_error(signum)

    wanted = [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    single = int(os.environ.get("WORLD_SIZE", "1")) <= 1 and threading.current_thread() is threading.main_thread()
    old = {s: signal.signal(s, stop) for s in wanted if single and signal.getsignal(s) is signal.SIG_DFL}
    if hold is not None and single and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        old[signal.SIGINT] = signal.signal(signal.SIGINT, stop)
    held = held_signals() if single else set()
    old.update({s: signal.signal(s, stop) for s in held})
    try:
        take_held(held)   # a held one raises here, inside the block: its stop line, as at any later moment
        yield
    finally:
        hold_again(held)   # first: one sent now stays pending, then is dropped with SIG_IGN back (as before)
        for s, handler in old.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def held_while_ignored(hold: bool = True, names: tuple[str, ...] = ("SIGINT", "SIGTERM")) -> Iterator[None]:
    """With `hold`, within the block, those of the signals `names` whose handler is SIG_IGN (inherited: a background
    job of a script starts its commands with SIGINT ignored) are blocked, so that one sent before the command puts
    in handlers that take them anyway (`runtime.signals.graceful_signals`, `serve.stops.StopSignals`, which unblock
    them with `take_held`) stays pending instead of being dropped: Linux keeps a blocked signal even while it is
    ignored. dt run's and dt serve's imports and option parsing take about 0.5 s, and a Ctrl-C then left the server
    running for good, and the run tracking to its end. At the end the mask is put back (a signal still pending
    while the handler is SIG_IGN again is dropped, as before)."""
    signums = {getattr(signal, n) for n in names if hasattr(signal, n)}
    ignored = {s for s in signums if signal.getsignal(s) == signal.SIG_IGN} if hold else set()
    if not ignored or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, ignored)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, ignored - set(before))


def blocked(signums: Iterable[int]) -> set[int]:
    """Those of `signums` this thread blocks now: the ones `held_while_ignored` holds, for `take_held`."""
    if not hasattr(signal, "pthread_sigmask"):
        return set()
    return set(signums) & set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def held_signals(names: tuple[str, ...] = ("SIGINT", "SIGTERM")) -> set[int]:
    """Those of the signals `names` that are ignored and blocked in this thread: held for the command by the CLI
    (`held_while_ignored`, HELD_FOR), for its handlers to take. None when the command is called from Python (the
    Python API holds nothing: an ignored signal stays ignored there)."""
    signums = {getattr(signal, n) for n in names if hasattr(signal, n)}
    return {s for s in blocked(signums) if signal.getsignal(s) == signal.SIG_IGN}


def take_held(held: set[int]) -> None:
    """Unblock `held` (`blocked`'s answer) once their handlers are in (main thread): one that `held_while_ignored`
    kept pending comes in now, raised from here by its handler (so `blocked` is asked first: nothing is returned
    then). `hold_again` blocks them again as the handlers are put back."""
    if held:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def hold_again(held: set[int]) -> None:
    """Block `held` again (`blocked`'s answer, as `take_held` found them) once the handlers that took them are put
    back."""
    if held:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
