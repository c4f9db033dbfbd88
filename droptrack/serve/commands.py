"""The commands of `dt serve`'s web handlers to its tracking thread: functions queued by the handlers and run by the
thread between frames, each answered through a Future (the handler waits a bounded time, never the tracker)."""

from __future__ import annotations

import queue
from concurrent.futures import Future
from typing import Callable

from droptrack.serve.options import CommandError


class Mailbox:
    """Queued commands: `post` (any thread), `run_pending` (the tracking thread), `answer` (the poster)."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()

    def qsize(self) -> int:
        """Commands waiting for the tracking thread."""
        return self._queue.qsize()

    def post(self, fn: Callable[[], object]) -> Future:
        """Queue `fn` for the tracking thread; its result (or exception) arrives in the returned Future."""
        fut: Future = Future()
        self._queue.put((fn, fut))
        return fut

    def run_pending(self, block: bool, timeout: float = 0.05) -> bool:
        """Run every queued command (waiting up to `timeout` for one when `block`); True if any was taken."""
        try:
            item = self._queue.get(timeout=timeout) if block else self._queue.get_nowait()
        except queue.Empty:
            return False
        while True:
            fn, fut = item
            if fut.set_running_or_notify_cancel():   # not one its caller gave up on (503)
                try:
                    fut.set_result(fn())
                except Exception as exc:  # noqa: BLE001 - handed to the caller
                    fut.set_exception(exc)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return True

    def refuse_pending(self, error: Callable[[], Exception]) -> None:
        """Answer every queued command with `error()` (the tracking thread ended)."""
        while True:
            try:
                _, fut = self._queue.get_nowait()
            except queue.Empty:
                return
            if fut.set_running_or_notify_cancel():
                fut.set_exception(error())


def answer(fut: Future, timeout: float) -> object:
    """The result of a posted command; a command not run within `timeout` is withdrawn and answers 503."""
    try:
        return fut.result(timeout)
    except TimeoutError:
        if not fut.cancel():   # being applied right now: its answer is moments away
            return fut.result()
        raise CommandError(503, f"the tracking thread did not answer within {timeout:g} s (source stalled?); "
                                "nothing was changed, try again") from None


def paused_state(state: str, paused: bool) -> str:
    """The session state after a pause (hold the frame) or resume command in `state`."""
    if paused and state in ("running", "waiting"):
        return "paused"
    if not paused and state in ("paused", "waiting"):
        return "running"
    return state


def ended_message(output_full: bool, error: str | None, live: bool, reconnecting: bool) -> str:
    """Why a command finds tracking over: a full disk stopped it, or the source ended (`error`: why; a live one
    without --reconnect gets the hint)."""
    if output_full:
        return f"tracking stopped: {error}; restart dt serve to track again"
    hint = " (--reconnect N reopens a live source that drops)" if live and not reconnecting else ""
    return f"the source ended{f' ({error})' if error else ''}; restart dt serve to track again{hint}"
