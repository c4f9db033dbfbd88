"""dt run, started with SIGINT / SIGTERM inherited as ignored (a `&` job of a script, `nohup`, CI runners), stops on
one sent while it still imports and parses its options, before its handlers (`runtime.signals.graceful_signals`) are
in: the kernel dropped it there, and the run tracked on to the end of its source, exit 0, as if no Ctrl-C had come.
The CLI now keeps it blocked, so pending, until those handlers take it (`signals.held_while_ignored`, as dt serve).

The signal is sent to the test's own thread from the hook that reads the extension options (inside the CLI, before
the command body): a signal to the process may go to any thread that does not block it, and a test process has
others; `dt run` blocks it in the thread that starts, before its imports start any."""

from __future__ import annotations

import signal
import threading

import pytest

import droptrack.cli.ext_options as ext_options
from droptrack.runtime.signals import StopFlag, graceful_signals
from droptrack.signals import held_while_ignored
from helpers import cli, signals_ignored

pytestmark = [pytest.mark.usefixtures("one_thread"),   # tiny_ckpt, video, one_thread: conftest.py
              pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")]



@pytest.mark.parametrize("signum, code, name", [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_sent_while_dt_run_starts_stops_it_and_the_same_command_runs_whole(tiny_ckpt, video, tmp_path,
                                                                                   monkeypatch, signum, code, name):
    real, pending = ext_options.ext_overrides, []

    def signal_now(*args, **kwargs):
        signal.pthread_kill(threading.get_ident(), signum)
        pending.append(signum in signal.sigpending())
        if not pending[-1]:   # dropped: the run would track to its end (the test fails on the exit code)
            raise RuntimeError(f"the {signal.Signals(signum).name} was dropped")
        return real(*args, **kwargs)

    boxes, lines = tmp_path / "boxes.txt", tmp_path / "f.jsonl"
    args = ["run", video, "-m", tiny_ckpt, "--init", "130,60,40,40", "--device", "cpu", "--max-frames", "4",
            "-o", boxes, "--jsonl", lines]
    monkeypatch.setattr(ext_options, "ext_overrides", signal_now)
    with signals_ignored(signal.SIGINT, signal.SIGTERM) as before:
        res = cli(*args)
        after = {s: signal.getsignal(s) for s in before}
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert pending == [True], res.output
    assert res.exit_code == code, res.output
    assert res.output.strip().splitlines()[-1] == f"{name}: stopped before the first frame; nothing was written"
    assert after == {s: signal.SIG_IGN for s in before} and not {signal.SIGINT, signal.SIGTERM} & blocked
    assert sorted(p.name for p in tmp_path.iterdir()) == []   # no .part, journal or lock left behind
    monkeypatch.setattr(ext_options, "ext_overrides", real)
    again = cli(*args)   # the same command: nothing to refuse, the run goes through
    assert again.exit_code == 0, again.output
    assert len(boxes.read_text().splitlines()) == len(lines.read_text().splitlines()) == 4


def test_handlers_take_a_held_signal_as_they_go_in_and_put_everything_back():
    """`graceful_signals` by hand, SIGINT held by `held_while_ignored` (as the CLI holds it): the pending signal
    stops the run as the handlers go in (the flag names it), and the handlers and the mask are put back."""
    flag = StopFlag()
    with signals_ignored(signal.SIGINT):
        with held_while_ignored(names=("SIGINT",)):
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
            assert signal.SIGINT in signal.sigpending()
            with pytest.raises(KeyboardInterrupt):
                with graceful_signals(flag):
                    raise AssertionError("the held SIGINT did not come in as the handlers went in")
            inside = signal.getsignal(signal.SIGINT), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        after = signal.getsignal(signal.SIGINT), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert flag.signum == signal.SIGINT
    assert inside == (signal.SIG_IGN, True)   # blocked again, as the handlers found it
    assert after == (signal.SIG_IGN, False)
