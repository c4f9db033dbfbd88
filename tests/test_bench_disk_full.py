"""`dt bench` on a full disk (here a file-size limit) caught the failed write in each row and went on: every row read
'failed', the command ended with exit 1 as a failed gate and wrote a bench.json that blamed the artifacts for the
disk. It now stops with the one 'no room left writing FILE' line, exit 2, and the rows tracked so far resume."""

from __future__ import annotations

import pytest

from disk_limits import dt_limited
from droptrack.data import generate_synth
from helpers import cli


def test_a_full_disk_stops_the_bench_in_one_line_and_it_resumes(tiny_ckpt, tmp_path):
    pytest.importorskip("cv2")
    data = generate_synth(tmp_path / "synth", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    args = ["bench", str(tiny_ckpt), "--tracker", "kcf", "--data", str(data), "-o", str(tmp_path / "out"),
            "--threads", "1"]
    p = dt_limited(args, 6000, tmp_path)   # the result files fit, a plot does not
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2, p.stderr
    assert len(lines) == 1 and lines[0].startswith("error: no room left writing "), p.stderr
    assert "--resume" in lines[0] and "Traceback" not in p.stderr
    assert not (tmp_path / "out" / "bench.json").exists()   # no report of rows that failed for the disk
    r = cli(*args, "--resume")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "bench.json").is_file()
