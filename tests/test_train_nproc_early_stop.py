"""Ctrl-C (SIGINT) of `dt train --nproc 2` while its processes start, before any checkpoint exists: one line, as a
single process stopped that early says, that the run stopped before its first checkpoint, nothing to resume, and
how to start again (it exited 130 without a word); SIGTERM then says it too (it exited 143 without a word)."""

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

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc (the launcher's pid)")
ROOT = Path(__file__).resolve().parents[1]


def ranks_of(launcher: int) -> list[int]:
    """The launcher's rank processes (`python -m droptrack.train ...`), started by torchrun."""
    found = []
    for pid in children(launcher):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"droptrack.train" in argv:
            found.append(pid)
    return found


def ctrl_c(out: Path, synth: Path, when: str, *extra: str, sig: int = signal.SIGINT,
           ignored: tuple[str, ...] = ()) -> tuple[int, list[str]]:
    """`dt train --nproc 2` sent SIGINT (or `sig`) once the launcher process exists (it is importing torch), once its
    ranks do (they are starting) or once `when` is a file in the output folder (the processes and files are watched,
    not slept for); its exit code and non-empty output lines. `ignored`: signals dt inherits as ignored."""
    cmd = [sys.executable, "-m", "droptrack", "train", "--config", "tiny_ce_test", "--output", str(out), "--data",
           str(synth), "--epochs", "1", "--batch-size", "2", "--samples-per-epoch", "100000", "--workers", "0",
           "--device", "cpu", "--nproc", "2", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "5",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    default = tuple(name for name in ("INT", "TERM") if name not in ignored)
    dt = subprocess.Popen(exec_with(cmd, default_signals=default, ignored_signals=ignored), env=env,
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
        dt.send_signal(sig)
        text, _ = dt.communicate(timeout=120)
    finally:
        if dt.poll() is None:
            dt.kill()
            dt.wait()
    return dt.returncode, [ln for ln in text.splitlines() if ln.strip()]


@pytest.mark.parametrize("when", ["launcher", "ranks"])
def test_ctrl_c_of_nproc_2_before_any_checkpoint_says_start_again(tmp_path, synth, when):
    code, lines = ctrl_c(tmp_path / "run", synth, when)
    assert code == 130 and not (tmp_path / "run" / "last.pt").exists(), (code, lines)
    assert lines == ["interrupted; no checkpoint was written yet; run the same command again to start over"], "\n".join(lines)


def test_ctrl_c_of_nproc_2_while_training_names_the_checkpoint_once(tmp_path, synth):
    """Said by the launcher once the ranks are gone (rank 0 saved last.pt as it stopped), as one process says it."""
    out = tmp_path / "run"
    code, lines = ctrl_c(out, synth, "last.pt", "--save-interval", "1")
    assert code == 130, (code, lines)
    said = [ln for ln in lines if ln.startswith("interrupted")]
    assert said == [f"interrupted; run the same command with --resume to continue from {out / 'last.pt'} (saved at "
                    "each epoch's end, at the iteration a stop signal or Ctrl-C ended, and every N iterations with "
                    "--save-interval N)"], lines


@pytest.mark.parametrize("when", ["launcher", "ranks"])
def test_sigterm_of_nproc_2_before_any_checkpoint_says_start_again(tmp_path, synth, when):
    """SIGTERM (a scheduler, `timeout`) while the launcher imports torch, before torchrun's handlers are in: it
    ended with 143 without a word, where SIGINT then says its line."""
    code, lines = ctrl_c(tmp_path / "run", synth, when, sig=signal.SIGTERM)
    assert code == 143 and not (tmp_path / "run" / "last.pt").exists(), (code, lines)
    assert lines == ["stopped by SIGTERM; no checkpoint was written yet; run the same command again to start over"], \
        "\n".join(lines)
