"""`dt eval` on a full disk (here a file-size limit) stopped in one line that said the finished files are kept, but
not how to go on; it now says that the same command resumes once there is room, and that rerun finishes the set
without tracking the kept sequences again."""

from __future__ import annotations

from disk_limits import dt_limited
from droptrack.data import generate_synth
from helpers import cli


def test_a_full_disk_stops_eval_in_one_line_that_says_how_to_resume(tiny_ckpt, tmp_path):
    root = generate_synth(tmp_path / "set", 2, 3, seed=0, size=(96, 64), split="val")
    args = ["eval", "--dataset", "synth", "--root", str(root), "-m", str(tiny_ckpt), "--output",
            str(tmp_path / "out"), "--threads", "1"]
    p = dt_limited(args, 6000, tmp_path)   # the result files fit, a plot does not
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2, p.stderr
    assert len(lines) == 1 and lines[0].startswith("error: no room left writing "), p.stderr
    assert lines[0].endswith("once there is room, run the same command to resume"), lines[0]
    r = cli(*args)
    assert r.exit_code == 0, r.output
    assert "0 tracked, 2 resumed" in r.output
