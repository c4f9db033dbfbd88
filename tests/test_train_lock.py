"""`dt train` on a file system without working locks trains and leaves no lock file, and `--nproc 2` takes the
folder lock once, in rank 0 (the lock itself, shared with dt export: tests/test_folder_locks.py)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from droptrack.data.synth import generate_synth
from droptrack.train.lock import LOCK, OutputLock
from locktools import dt, dt_without_locks, python_m

TINY = ["--epochs", "1", "--batch-size", "4", "--samples-per-epoch", "8", "--workers", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    """The 2-sequence training set the tests train on (dt train only reads it), made once, in a folder with a space."""
    return generate_synth(tmp_path_factory.mktemp("synth") / "da ta", sequences=2, frames=24, seed=0, size=(160, 120))


def busy(folder) -> str:
    """dt train's refusal when another run holds `folder`'s lock."""
    return (f"another dt train is writing to '{folder}'; wait for it to finish (or stop it) and then run again with "
            "--resume, or pass another --output")


def held(folder) -> contextlib.ExitStack:
    """A run holding `folder`'s lock until the stack is closed."""
    stack = contextlib.ExitStack()
    stack.enter_context(OutputLock()).take(folder)
    return stack


def test_dt_train_on_a_file_system_without_locks_trains_and_leaves_no_lock_file(tmp_path, synth):
    out = tmp_path / "run"
    p = dt_without_locks("ENOLCK", "train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (out / "final.pt").is_file() and not (out / LOCK).exists()


def test_nproc_2_is_refused_before_its_ranks_start_while_the_folder_is_held_and_locks_it_once_when_free(tmp_path,
                                                                                                          synth):
    """dt's launcher refuses a held folder in one line before any rank starts (they built the model and data first);
    rank 0 alone takes the lock when it runs (a rank 1 taking it too would refuse its own run); a free folder trains
    and leaves no lock file. The free run is also the whole `python -m droptrack.train ... --nproc 2` launch into and
    from folders with spaces in their names (it failed with "Missing option '--config'": the ranks got the arguments
    less the first one)."""
    out = tmp_path / "r un"
    out.mkdir()
    args = ["-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--nproc", "2"]
    with held(out):
        p = dt("train", *args)
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error: ")]
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert errors[0] == f"error: {busy(out)}", p.stderr
    assert errors[1:] == [] and "rank" not in p.stderr, p.stderr   # no rank started
    assert list(out.iterdir()) == []   # nothing written; the lock file was removed by its holder (this test)
    p = python_m("droptrack.train", *args)
    assert p.returncode == 0, p.stderr
    assert (out / "final.pt").is_file() and not (out / LOCK).exists()
    assert f"checkpoint: {out / 'final.pt'}" in p.stdout, p.stdout


def test_a_held_folder_is_refused_before_the_pretrained_weights_are_read(tmp_path, synth):
    """One process: the lock is peeked at with the other checks, before any work (it was met only after the model,
    the --pretrained weights and the data were loaded: here a damaged --pretrained was reported instead)."""
    out = tmp_path / "run"
    out.mkdir()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint" * 8)
    with held(out):
        p = dt("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--pretrained", bad)
    assert p.returncode == 2 and p.stderr.strip() == f"error: {busy(out)}", p.stderr
    assert list(out.iterdir()) == []


def test_a_lock_a_killed_runs_workers_still_hold_for_a_moment_is_waited_for(tmp_path):
    """A run SIGKILLed (the OOM killer) leaves its forked DataLoader workers holding its inherited lock until they
    notice, about 5 s: the immediate --resume was refused as 'another dt train is writing'. A holder that lets go
    within the wait is waited for; one that does not is still refused."""
    import subprocess
    import sys
    import time

    from droptrack.errors import TrainingError
    from droptrack.train.lock import check_free

    out = tmp_path / "run"
    out.mkdir()
    hold = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(float(sys.argv[2]))")
    p = subprocess.Popen([sys.executable, "-c", hold, str(out / LOCK), "1.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        check_free(out, wait_s=8.0)                  # the holder ends after 1.5 s: no refusal
        assert 0.5 < time.monotonic() - t0 < 8.0
    finally:
        p.wait()
    p = subprocess.Popen([sys.executable, "-c", hold, str(out / LOCK), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(TrainingError, match="another dt train is writing"):
            check_free(out, wait_s=0.5)              # a live writer: refused once the wait is over
    finally:
        p.kill()
        p.wait()
