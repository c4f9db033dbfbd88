"""The long commands (dt eval, train, bench, demo, export, data synth) started with SIGINT inherited as ignored (a
background job of a script: `dt eval ... &`) stop on a `kill -INT` sent while they work, as on a Ctrl-C: exit 130,
what is done kept, and the same command resumes. The kernel dropped that signal: dt eval tracked every sequence and
exited 0. The CLI now holds it (`signals.held_while_ignored`, HELD_FOR) and `signals.stop_signals` takes it. Each
process test waits for a file the command writes once its work has begun, then sends the signal; the timeouts are
only guards against a hang."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import pytest
import torch
import yaml

from droptrack.signals import held_for, held_while_ignored, stop_signals
from exec_with import exec_with
from helpers import signals_ignored

pytestmark = pytest.mark.skipif(sys.platform != "linux" or not hasattr(signal, "pthread_sigmask"),
                                reason="POSIX signal masks")
ROOT = Path(__file__).resolve().parents[1]
HANG_S = 300   # a guard against a hang only


def started(cmd: list[str], stderr: Path) -> subprocess.Popen:
    """`python -m droptrack CMD...` with SIGINT ignored, as a background job of a script starts it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with stderr.open("w") as err:
        return subprocess.Popen(exec_with([sys.executable, "-m", "droptrack", *cmd], ignored_signals=("INT",)),
                                env=env, stdout=subprocess.DEVNULL, stderr=err)


def interrupted_once(proc: subprocess.Popen, ready) -> int:
    """Send SIGINT to `proc` once `ready()` (its work has begun); its exit code."""
    deadline = time.monotonic() + HANG_S
    try:
        while proc.poll() is None and not ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        return proc.wait(timeout=HANG_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_dt_eval_in_a_background_job_stops_on_sigint_and_the_same_command_resumes(tiny_ckpt, tmp_path):
    from droptrack.data.synth import generate_synth

    root = generate_synth(tmp_path / "data", sequences=4, frames=40, seed=2, size=(160, 120))
    out = tmp_path / "out"
    cmd = ["eval", "--dataset", "synth", "--root", str(root), "--checkpoint", str(tiny_ckpt), "--output", str(out),
           "--workers", "1", "--threads", "1", "--device", "cpu"]
    # one `<seq>.txt` per finished sequence: written after its `_time.txt`, it marks the sequence done (a SIGINT
    # between the two left no sequence saved while a time file already showed; the submission is a folder deeper)
    done = lambda: sorted(p for p in out.glob("*/*.txt") if not p.name.endswith("_time.txt"))   # noqa: E731
    code = interrupted_once(started(cmd, tmp_path / "err1"), lambda: bool(done()))
    err = (tmp_path / "err1").read_text()
    assert code == 130, err[-2000:]   # the SIGINT went unanswered: exit 0 once all was done
    last = err.strip().splitlines()[-1]
    saved = re.fullmatch(r"interrupted: (\d) of 4 sequences saved in (.+); run the same command to resume", last)
    assert saved and 1 <= int(saved[1]) < 4, last
    finished = [f for p in done() for f in (p, p.with_name(f"{p.stem}_time.txt"))]   # not a half-written next one
    kept = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished}
    assert len(done()) == int(saved[1])
    again = subprocess.run([*exec_with([sys.executable, "-m", "droptrack", *cmd])], capture_output=True, text=True,
                           timeout=HANG_S, env={**os.environ, "OMP_NUM_THREADS": "1",
                                                "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(done()) == 4
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in kept} == kept   # the finished ones were not redone


def test_dt_train_in_a_background_job_stops_on_sigint_with_last_pt_and_resumes(synth, tmp_path):
    config = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    config["TRAIN"]["PRINT_INTERVAL"] = 1   # train.log shows the first iteration: the run has begun
    (tmp_path / "tiny_log_all.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    cmd = ["train", "-c", str(tmp_path / "tiny_log_all.yaml"), "-o", str(out), "--data", str(synth), "--epochs", "1",
           "--batch-size", "2", "--samples-per-epoch", "24", "--workers", "0", "--seed", "5", "--device", "cpu",
           "--threads", "1"]
    log = out / "train.log"
    code = interrupted_once(started(cmd, tmp_path / "err1"), lambda: log.is_file() and log.stat().st_size > 0)
    err = (tmp_path / "err1").read_text()
    assert code == 130, err[-2000:]   # the SIGINT went unanswered: exit 0 once all was done
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted; ") and "--resume" in last, last
    stopped = torch.load(out / "last.pt", weights_only=True)
    assert not (out / "final.pt").exists() and 1 <= stopped["iteration"] < 12, "not stopped mid-epoch"
    code = interrupted_once(started([*cmd, "--resume"], tmp_path / "err2"), lambda: False)   # runs to its end
    assert code == 0, (tmp_path / "err2").read_text()[-2000:]
    assert torch.load(out / "final.pt", weights_only=True)["history"]


def test_stop_signals_take_a_held_signal_and_put_everything_back():
    """What the CLI does for each long command, by hand: SIGINT ignored and held (`held_while_ignored`), sent before
    `stop_signals` is in, comes in as it goes in; handler and mask are put back after."""
    with signals_ignored(signal.SIGINT):
        with held_while_ignored(names=("SIGINT",)):
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
            assert signal.SIGINT in signal.sigpending()
            with pytest.raises(KeyboardInterrupt):
                with stop_signals():
                    raise AssertionError("the held SIGINT did not come in as the handlers went in")
            inside = signal.getsignal(signal.SIGINT), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        after = signal.getsignal(signal.SIGINT), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert inside == (signal.SIG_IGN, True) and after == (signal.SIG_IGN, False)


def test_stop_signals_leave_an_ignored_signal_nobody_holds_and_an_ignored_sighup_alone():
    """Called from Python (the API holds nothing), an ignored SIGINT stays ignored; `nohup`'s SIGHUP too, held or
    not."""
    with signals_ignored(signal.SIGINT, signal.SIGHUP):
        with stop_signals():
            free = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGHUP)
        with held_while_ignored(names=("SIGINT", "SIGTERM")), stop_signals():
            hup = signal.getsignal(signal.SIGHUP)
    assert free == (signal.SIG_IGN, signal.SIG_IGN) and hup == signal.SIG_IGN


@pytest.mark.parametrize("words, held", [
    (["eval"], True), (["bench"], True), (["train"], True), (["demo"], True), (["export"], True), (["run"], True),
    (["serve"], True), (["data", "synth"], True), (["data"], False), (["data", "fetch"], False), (["analyze"], False),
    (["version"], False), ([], False)])
def test_the_long_commands_are_held_for(words, held):
    assert held_for(words) is held
