"""benchmarks/bench_classic.py's bar names the --data set's folder: rich read that name as markup, so a set in
'[red]s' showed as 's' (the bar is drawn on a terminal only: rich is told it writes to one here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from droptrack.data import generate_synth

ROOT = Path(__file__).resolve().parents[1]


def test_the_bar_names_the_set_folder_as_it_is(tmp_path):
    folder = generate_synth(tmp_path / "[red]s", sequences=1, frames=4, seed=0, size=(64, 64), split="val")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TTY_COMPATIBLE": "1", "TERM": "xterm", "COLUMNS": "200"}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_classic.py"), "--data", str(folder),
                        "--trackers", "csrt", "--no-real", "--workdir", str(tmp_path / "work"), "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "results_[red]s_" in r.stdout, r.stdout
