"""The note a held stop signal prints names how to send that signal again: after a SIGTERM it said 'the same signal
again (Ctrl-C)', and Ctrl-C is SIGINT."""

from __future__ import annotations

import signal

from droptrack.train.stops import StepHold


def test_held_stop_note_names_the_signal_to_send_again(capfd):
    for signum, said in ((signal.SIGTERM, "SIGTERM again stops at once"), (signal.SIGINT, "Ctrl-C again stops at once"),
                         (signal.SIGHUP, "SIGHUP again stops at once")):
        hold = StepHold()
        with hold.held():
            assert hold.take(signum) and hold.pending == signum
            assert not hold.take(signum)   # a second one is raised, not held (nor said)
        err = capfd.readouterr().err
        assert err == f"\nstopping once this iteration is done and saved; {said}\n", err
