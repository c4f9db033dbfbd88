"""A Ctrl-C (or SIGTERM's Stopped) that Python raises inside a callback it cannot raise from, such as the weakref
callback of an import lock that CI caught in `dt train --nproc 2`'s rank: without `keep_interrupts_from_callbacks` it
is printed as 'Exception ignored in: ...' and lost (the process runs on); with it, the main thread gets it again,
and nothing is printed."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import signal, sys, time, weakref
from droptrack.signals import Stopped, keep_interrupts_from_callbacks

signal.signal(signal.SIGINT, signal.default_int_handler)   # as where Ctrl-C raises (xdist's workers ignore it)
if sys.argv[1] == "kept":
    keep_interrupts_from_callbacks()
    keep_interrupts_from_callbacks()   # a second call changes nothing
if sys.argv[2] == "SIGTERM":
    def stop(signum, frame):
        raise Stopped(signum)
    signal.signal(signal.SIGTERM, stop)

class Lock:
    pass

def callback(_ref):   # as a signal handler's exception surfaces inside importlib's _get_module_lock callback
    raise KeyboardInterrupt() if sys.argv[2] == "SIGINT" else Stopped(signal.SIGTERM)

lock = Lock()
ref = weakref.ref(lock, callback)
try:
    del lock   # the callback runs now; its exception cannot leave it
    for _ in range(300):
        time.sleep(0.01)
    print("ran on")
except KeyboardInterrupt as exc:
    print("stopped by", type(exc).__name__)
"""


def _run(mode: str, sig: str) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode, sig], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


@pytest.mark.parametrize("sig, name", [("SIGINT", "KeyboardInterrupt"), ("SIGTERM", "Stopped")])
def test_an_interrupt_raised_in_a_callback_reaches_the_main_thread_quietly(sig, name):
    out, err = _run("kept", sig)
    assert out == f"stopped by {name}" and "Exception ignored" not in err and not err.strip(), err


def test_without_the_hook_python_prints_it_and_runs_on():
    """The failure the hook is for, as CPython behaves: a reference for the test above."""
    out, err = _run("plain", "SIGINT")
    assert out == "ran on" and "Exception ignored" in err and "KeyboardInterrupt" in err


def test_an_interrupt_without_a_handler_to_deliver_it_again_is_still_reported():
    """SIGINT ignored (a `&` job, xdist's workers): no handler can take it again, so it is printed as before."""
    code = SCRIPT.replace("signal.signal(signal.SIGINT, signal.default_int_handler)",
                          "signal.signal(signal.SIGINT, signal.SIG_IGN)")
    done = subprocess.run([sys.executable, "-c", code, "kept", "SIGINT"], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ran on" and "Exception ignored" in done.stderr


def test_other_unraisable_errors_are_still_reported():
    code = ("import weakref; from droptrack.signals import keep_interrupts_from_callbacks\n"
            "keep_interrupts_from_callbacks()\n"
            "class O: pass\n"
            "def cb(_): raise ValueError('kept visible')\n"
            "o = O(); r = weakref.ref(o, cb); del o\n"
            "print('ran on')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ran on" and "ValueError: kept visible" in done.stderr
