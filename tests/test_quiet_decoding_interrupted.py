"""A stop signal raised as an exception (SIGHUP and SIGTERM in dt eval, Ctrl-C) while `quiet_decoding` has fd 2
pointing at its scratch file gives stderr back, wherever it lands: CI saw `dt eval` stopped by SIGHUP exit 129 with
an empty stderr, its closing line written into the scratch file of the frame being read (the exception came in the
hand-back, or between the context manager's yield and the caller's with-block, which then never gave fd 2 back)."""

from __future__ import annotations

import contextlib
import dis
import os
import sys
import threading

import pytest

import droptrack.decodelog as decodelog
from droptrack.decodelog import quiet_decoding

pytestmark = pytest.mark.skipif(not hasattr(os, "pread"), reason="quiet_decoding swaps fd 2 only where os has pread")


def _interrupt_at(n: int):
    """A trace function raising KeyboardInterrupt at the n-th point, once, as a signal handler's exception would
    come there: the start of a line, or just after a function returns (the exception then comes at its call), in
    decodelog, in contextlib (the with-blocks' and context managers' own code) or in the caller here; it counts
    the points in `seen`. A line that starts with a no-op (a `try:`) is left out: the interpreter runs no signal
    handler there (and covers it by no handler either)."""
    seen = [0]

    def local(frame, event, arg):
        if event == "return" or event == "line" and frame.f_code.co_code[frame.f_lasti] != dis.opmap["NOP"]:
            seen[0] += 1
            if seen[0] == n:
                raise KeyboardInterrupt   # raising from a trace function also ends the tracing: one interrupt
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename in (decodelog.__file__, contextlib.__file__, __file__) else None

    return tracer, seen


def _free_for_other_threads(lock) -> bool:
    """Whether another thread can take `lock` now (this thread's own hold would not show: it is an RLock)."""
    got = []

    def take() -> None:
        got.append(lock.acquire(blocking=False))
        if got[0]:
            lock.release()

    t = threading.Thread(target=take)
    t.start()
    t.join()
    return got[0]


def _decode_once() -> list[str]:
    return quiet_decoding(os.write, 2, b"Premature end of JPEG file\n")[1]   # what libjpeg writes about a cut frame


def test_stderr_is_given_back_wherever_the_interrupt_lands() -> None:
    before = os.fstat(2)
    keep = os.dup(2)
    try:
        n, landed, held = 0, [], []
        while True:
            n += 1
            tracer, seen = _interrupt_at(n)
            sys.settrace(tracer)
            try:
                said = _decode_once()
            except KeyboardInterrupt:
                said = None
            finally:
                sys.settrace(None)
            if seen[0] < n:   # ran to the end before point n: every point has been tried
                assert said == ["Premature end of JPEG file"]
                break
            assert said is None
            now = os.fstat(2)
            if not os.path.samestat(now, before):
                landed.append(n)
                os.dup2(keep, 2)   # for the next try, and for pytest
            if not _free_for_other_threads(decodelog._FD2):
                held.append(n)
        assert n > 10   # the points of quiet_decoding and its helpers were tried one by one
        assert landed == [], f"fd 2 was left on the scratch file after an interrupt at point(s) {landed} of {n - 1}"
        assert held == [], f"fd 2's lock stayed held after an interrupt at point(s) {held}: other threads' decodes hang"
    finally:
        os.dup2(keep, 2)
        os.close(keep)
