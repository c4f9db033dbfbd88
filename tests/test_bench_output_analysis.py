"""`dt bench -o DIR` where DIR holds a `dt analyze` report replaced that report.json and its plots without a word
(dt analyze refuses a dt bench folder the same way); a bench killed between its report.json and its bench.json is
still run again into its own folder."""

from __future__ import annotations

import numpy as np
from helpers import FakeSeq, cli, one_line_error

from droptrack.eval import results as R
from droptrack.eval.report import analyze


def test_a_dt_analyze_folder_is_refused_and_kept(tmp_path):
    seq = FakeSeq("s0", "otb", np.array([[20.0 + 3 * i, 30.0, 40.0, 30.0] for i in range(6)]))
    R.write_result(tmp_path / "res" / "mine" / "s0.txt", seq.boxes)
    out = tmp_path / "analysis"
    analyze([tmp_path / "res" / "mine"], [seq], output_dir=out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    res = cli("bench", "--tracker", "kcf", "--sequences", "1", "--frames", "3", "-o", out)
    assert one_line_error(res) == (f"error: --output '{out}' holds a report.json that dt bench did not write (dt "
                                   "analyze's?), which it would replace with its plots; pass another folder")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_bench_killed_before_its_bench_json_runs_again(tmp_path):
    out = tmp_path / "bench"
    args = ["bench", "--tracker", "kcf", "--sequences", "1", "--frames", "3", "-o", out]
    assert cli(*args).exit_code == 0
    (out / "bench.json").unlink()   # killed after report.json was written
    res = cli(*args)
    assert res.exit_code == 0, res.output
    assert (out / "bench.json").is_file()


def test_a_copied_bench_folder_killed_before_its_bench_json_runs_again(tmp_path):
    import shutil

    args = ["bench", "--tracker", "kcf", "--sequences", "1", "--frames", "3"]
    assert cli(*args, "-o", tmp_path / "first").exit_code == 0
    out = shutil.copytree(tmp_path / "first", tmp_path / "copy")
    (out / "bench.json").unlink()
    res = cli(*args, "-o", out, "--resume")
    assert res.exit_code == 0, res.output
