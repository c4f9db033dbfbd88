"""`dt eval` whose terminal or ssh session closes (SIGHUP) died without a word, as if killed; it now stops as SIGTERM
and Ctrl-C do: finished sequences saved, one line saying how many and how to resume, exit 129 (128 + SIGHUP)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from droptrack.data import generate_synth

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP here")


def test_sighup_stops_eval_like_ctrl_c(tmp_path: Path) -> None:
    root = generate_synth(tmp_path / "set", 3, 100, seed=0, size=(96, 64), split="val")
    out = tmp_path / "out" / "default"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                         os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-c", "from droptrack.cli import app; app(prog_name='dt')", "eval", "--dataset", "synth",
           "--root", str(root), "--output", str(tmp_path / "out"), "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,   # pytest under
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))   # nohup: not ignored
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(out.glob("synth_*_time.txt")):
        time.sleep(0.01)
    proc.send_signal(signal.SIGHUP)
    out_text, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGHUP, err[-2000:]
    saved = len([p for p in out.glob("synth_*.txt") if not p.name.endswith("_time.txt")])
    said = (f"stopped by SIGHUP: {saved} of 3 sequences saved in {out}; run the same command to resume" if saved else
            f"stopped by SIGHUP: no sequence had finished, none saved in {out}; run the same command to start again")
    assert err.strip().splitlines()[-1:] == [said], (out_text[-2000:], err[-2000:])
    assert not (out / ".lock").exists() and not list(out.glob(".*.tmp"))
