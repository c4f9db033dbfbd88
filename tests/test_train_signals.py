"""`dt train` stopped for real in the middle of an epoch (Ctrl-C, SIGTERM, kill -9) and run again with --resume ends
with weights and loss history bit-identical to a run that was never stopped, and leaves no half-written checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from droptrack.data.synth import generate_synth
from droptrack.train.trainer import TrainOptions, train
from exec_with import exec_with

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return generate_synth(tmp_path_factory.mktemp("synth") / "train", sequences=3, frames=24, seed=0, size=(160, 120))


def opts(out: Path, synth: Path, **kw) -> TrainOptions:
    """2 epochs of 6 iterations, last.pt after every iteration."""
    return TrainOptions(config="tiny_ce_test", output=out, data=[str(synth)], epochs=2, batch_size=2,
                        samples_per_epoch=12, workers=0, seed=5, device="cpu", save_interval=1, threads=1,
                        quiet=True, **kw)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, synth) -> dict:
    return torch.load(train(opts(tmp_path_factory.mktemp("full") / "run", synth)), weights_only=True)


def stopped_run(out: Path, synth: Path, sig: signal.Signals) -> int:
    """`dt train` in a process of its own, sent `sig` once its first checkpoint is on disk; its exit code."""
    cmd = [sys.executable, "-m", "droptrack", "train", "-c", "tiny_ce_test", "-o", str(out), "--data", str(synth),
           "--epochs", "2", "--batch-size", "2", "--samples-per-epoch", "12", "--workers", "0", "--seed", "5",
           "--device", "cpu", "--save-interval", "1", "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(exec_with(cmd, default_signals=("INT", "TERM")), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while not (out / "last.pt").exists() and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(sig)
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGKILL, -9)])   # SIGTERM stops as SIGINT does
def test_a_run_stopped_mid_epoch_resumes_bit_exact(tmp_path, synth, uninterrupted, sig, code):
    out = tmp_path / "run"
    assert stopped_run(out, synth, sig) == code
    stopped = torch.load(out / "last.pt", weights_only=True)
    assert not (out / "final.pt").exists() and (stopped["epoch"], stopped["iteration"]) < (2, 6), "not stopped early"
    train(opts(out, synth, resume=True))
    resumed = torch.load(out / "final.pt", weights_only=True)
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in uninterrupted["history"]]
    assert resumed["net"].keys() == uninterrupted["net"].keys()
    assert all(torch.equal(resumed["net"][k], uninterrupted["net"][k]) for k in resumed["net"])
    assert not list(out.glob(".*.tmp"))   # a save cut short by the signal is cleaned up, never read
