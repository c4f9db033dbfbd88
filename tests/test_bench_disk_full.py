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


def test_a_full_disk_on_the_comparison_plots_stops_the_bench_too(tiny_ckpt, tmp_path):
    """The success / precision plots of all rows together are the bench's largest curve plots (one curve per row);
    a full disk there was turned into a 'no success plot: no room left ...' note, and the bench ended with exit 0,
    without those plots (or report.json). With a size limit that every other file fits under, it now stops with the
    one line and --resume draws them."""
    pytest.importorskip("cv2")
    data = generate_synth(tmp_path / "synth", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    args = ["bench", str(tiny_ckpt), "--tracker", "kcf", "--tracker", "mosse", "--data", str(data), "--threads", "1"]
    ref = tmp_path / "ref"
    assert cli(*args, "-o", ref).exit_code == 0
    curves = [ref / n for n in ("success.png", "precision.png", "norm_precision.png") if (ref / n).is_file()]
    others = [p for p in ref.rglob("*") if p.is_file() and p not in curves]
    limit = max(p.stat().st_size for p in others)   # every row's files (their one-curve plots) and the report fit
    assert curves and min(p.stat().st_size for p in curves) > limit   # the plots of three curves do not
    out = tmp_path / "out"
    p = dt_limited([*args, "-o", str(out)], limit, tmp_path)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2, p.stdout + p.stderr
    assert len(lines) == 1 and lines[0].startswith(f"error: no room left writing '{out / curves[0].name}'"), p.stderr
    assert "--resume" in lines[0] and not (out / "bench.json").exists()
    r = cli(*args, "-o", out, "--resume")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.glob("*.png")) == sorted(p.name for p in ref.glob("*.png"))
