"""benchmarks/bench_ort_graph.py: bad input is one line on stderr and exit code 2, before any graph is loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ort_graph.py"


@pytest.mark.parametrize("args, says", [
    ([], "error: nothing to track: give --data SET or --video CLIP --init X,Y,W,H (or --network N)"),
    (["--video", "clip.mp4"], "error: give one --init per --video"),
])
def test_bad_input_is_one_line(tmp_path, args, says):
    res = subprocess.run([sys.executable, str(SCRIPT), "--export", str(tmp_path), "--out", str(tmp_path / "o"), *args],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines()[-1] == says and "Traceback" not in res.stderr
    assert not (tmp_path / "o" / "speed.json").exists()
