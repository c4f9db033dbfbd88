"""`dt train --nproc 2` started as a background job of a script (SIGINT inherited as ignored, as `&` starts it):
the CLI holds that SIGINT for dt train (`signals.held_while_ignored`), so `kill -INT` stops it as Ctrl-C stops a
foreground run: once, the checkpoint kept, with the line saying how to resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from droptrack.train.launch import children
from exec_with import exec_with
from test_train_nproc_early_stop import ranks_of

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc (the launcher's pid)")
ROOT = Path(__file__).resolve().parents[1]


def interrupted(out: Path, synth: Path, when: str) -> tuple[int, list[str]]:
    """`dt train --nproc 2` with SIGINT ignored, sent SIGINT once `when` ('launcher', 'ranks' or a file in the
    output folder) is there; its exit code and non-empty output lines."""
    cmd = [sys.executable, "-m", "droptrack", "train", "--config", "tiny_ce_test", "--output", str(out), "--data",
           str(synth), "--epochs", "1", "--batch-size", "2", "--samples-per-epoch", "100000", "--workers", "0",
           "--device", "cpu", "--nproc", "2", "--save-interval", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "5",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    dt = subprocess.Popen(exec_with(cmd, default_signals=("TERM",), ignored_signals=("INT",)), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        while True:
            assert dt.poll() is None and time.monotonic() < deadline, dt.stdout.read()
            launcher = children(dt.pid)
            if launcher and (when == "launcher" or (when == "ranks" and ranks_of(launcher[0]))
                             or (out / when).is_file()):
                break
            time.sleep(0.005)
        dt.send_signal(signal.SIGINT)
        text, _ = dt.communicate(timeout=150)
    finally:
        if dt.poll() is None:
            dt.kill()
            dt.wait()
    return dt.returncode, [ln for ln in text.splitlines() if ln.strip()]


@pytest.mark.parametrize("when", ["launcher", "ranks"])
def test_ignored_sigint_before_any_checkpoint_stops_once(tmp_path, synth, when):
    code, lines = interrupted(tmp_path / "run", synth, when)
    assert code == 130 and not (tmp_path / "run" / "last.pt").exists(), (code, lines)
    assert lines == ["interrupted; no checkpoint was written yet; run the same command again to start over"], lines


def test_ignored_sigint_while_training_keeps_the_checkpoint_and_says_resume(tmp_path, synth):
    out = tmp_path / "run"
    code, lines = interrupted(out, synth, "last.pt")
    assert code == 130, (code, lines)
    assert [ln for ln in lines if ln.startswith("interrupted")] == [
        f"interrupted; run the same command with --resume to continue from {out / 'last.pt'} (saved at each "
        "epoch's end, at the iteration a stop signal or Ctrl-C ended, and every N iterations with --save-interval N)"
    ], lines
