"""`dt train` stopped for real in the middle of an epoch and run again with --resume ends with weights and loss
history bit-identical to a run that was never stopped, and leaves no half-written checkpoint. Ctrl-C (and SIGTERM)
let the iteration in progress finish and save it in last.pt first (a stop lost every iteration since the last
checkpoint: the whole epoch without --save-interval); kill -9 resumes from the newest checkpoint on disk."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest
import torch
import yaml

from droptrack.signals import Stopped
from droptrack.train.stops import StepHold
from droptrack.train.trainer import TrainOptions, train
from exec_with import exec_with
from helpers import one_epoch_options

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
ROOT = Path(__file__).resolve().parents[1]
ITERATIONS = 20   # one epoch: 40 samples, batch 2


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """tiny_ce_test logging every iteration to train.log (how the test sees the run has begun)."""
    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    data["TRAIN"]["PRINT_INTERVAL"] = 1
    path = tmp_path_factory.mktemp("cfg") / "tiny_log_all.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def opts(out: Path, synth: Path, config: Path, **kw) -> TrainOptions:
    return one_epoch_options(out, synth, config, ITERATIONS, **kw)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, synth, config) -> dict:
    return torch.load(train(opts(tmp_path_factory.mktemp("full") / "run", synth, config)), weights_only=True)


def stopped_run(out: Path, synth: Path, config: Path, sig: signal.Signals, *extra: str) -> int:
    """`dt train` in a process of its own, sent `sig` once train.log shows its first iteration (and, with
    --save-interval, once last.pt is written); its exit code."""
    cmd = [sys.executable, "-m", "droptrack", "train", "-c", str(config), "-o", str(out), "--data", str(synth),
           "--epochs", "1", "--batch-size", "2", "--samples-per-epoch", str(2 * ITERATIONS), "--workers", "0",
           "--seed", "5", "--device", "cpu", "--threads", "1", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(exec_with(cmd, default_signals=("INT", "TERM")), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ready = out / ("last.pt" if "--save-interval" in extra else "train.log")
    try:
        while proc.poll() is None and not (ready.is_file() and ready.stat().st_size):
            time.sleep(0.01)
        proc.send_signal(sig)
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def logged_iterations(out: Path) -> int:
    """The last iteration train.log says was done."""
    return int(re.findall(r"^\[epoch 1: (\d+)/", (out / "train.log").read_text(), re.M)[-1])


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, extra", [(signal.SIGINT, 130, ()), (signal.SIGKILL, -9, ("--save-interval", "1"))])
def test_a_run_stopped_mid_epoch_resumes_bit_exact(tmp_path, synth, config, uninterrupted, sig, code, extra):
    out = tmp_path / "run"
    assert stopped_run(out, synth, config, sig, *extra) == code
    stopped = torch.load(out / "last.pt", weights_only=True)
    assert not (out / "final.pt").exists() and 1 <= stopped["iteration"] < ITERATIONS, "not stopped mid-epoch"
    if sig == signal.SIGINT:   # every iteration done is kept: the one in progress finished and was saved
        assert stopped["iteration"] == logged_iterations(out)
    train(opts(out, synth, config, resume=True))
    resumed = torch.load(out / "final.pt", weights_only=True)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in uninterrupted["history"]]
    assert resumed["net"].keys() == uninterrupted["net"].keys()
    assert all(torch.equal(resumed["net"][k], uninterrupted["net"][k]) for k in resumed["net"])
    assert not list(out.glob(".*.tmp"))   # a save cut short by the signal is cleaned up, never read


def test_a_held_stop_is_raised_once_asked_and_a_second_one_at_once():
    """StepHold by hand: outside `held` a signal is not taken; inside, the first is (raised by stop_if_asked as the
    signal's own stop: SIGTERM as Stopped, SIGINT as KeyboardInterrupt) and a second is not; `released` raises it."""
    hold = StepHold()
    assert not hold.take(signal.SIGTERM)
    with hold.held():
        hold.stop_if_asked()   # nothing held yet
        assert hold.take(signal.SIGTERM) and not hold.take(signal.SIGTERM)
        with pytest.raises(Stopped) as err:
            hold.stop_if_asked()
        assert err.value.signum == signal.SIGTERM
        with pytest.raises(Stopped):
            with hold.released():
                pass
    other = StepHold()
    with other.held():
        assert other.take(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt) as err:
            other.stop_if_asked()
        assert not isinstance(err.value, Stopped)
