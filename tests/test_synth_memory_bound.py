"""`dt data synth --frames 1000000000` started rendering a sequence that can never fit in memory (each sequence is
rendered whole before it is written) and ran until the OOM killer ended it; it is refused in one line at once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "sysconf"), reason="needs sysconf for the machine's memory")

RUN = "from droptrack.cli import app; import sys; app(sys.argv[1:], prog_name='dt')"


def test_frames_beyond_memory_are_refused_before_work(tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "set"
    try:   # 10^9 frames of 64x64 RGB are 11 TiB
        proc = subprocess.run([sys.executable, "-c", RUN, "data", "synth", str(out), "-n", "1", "--frames",
                               "1000000000", "--size", "64x64"], capture_output=True, text=True, env=env, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("dt data synth began rendering a sequence larger than the machine's memory")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1 and "--frames" in lines[0] and "GiB" in lines[0], lines
    assert not out.exists()
