"""`dt bench -o DIR` deleted (then replaced) any bench.json, bench.md, latency.png or success/precision/... plot of
its names in DIR without checking who wrote it: another tool's bench.json (pytest-benchmark's, hyperfine's) or a
figure of the user's. A file there that no dt bench (or, for a plot, no droptrack command) wrote is now refused
before any work, in one line, and kept, as dt analyze refuses one in its folder; a dt bench's own folder, also one a
killed bench left without its bench.json, is still run again."""

from __future__ import annotations

import json

import pytest
from helpers import cli, one_line_error

ARGS = ["bench", "--tracker", "kcf", "--sequences", "1", "--frames", "3"]


@pytest.mark.parametrize("name, content", [
    ("bench.json", json.dumps({"benchmarks": [{"name": "test_track", "stats": {"mean": 0.01}}]}).encode()),
    ("bench.json", b"not json"),
    ("bench.md", b"# My benchmark notes\n"),
    ("latency.png", b"\x89PNG\r\n\x1a\nmy own figure"),
    ("success.png", b"\x89PNG\r\n\x1a\nmy own figure"),
    ("attributes.png", b"\x89PNG\r\n\x1a\nmy own figure")],
    ids=["bench.json-pytest-benchmark", "bench.json-text", "bench.md", "latency.png", "success.png",
         "attributes.png"])
def test_a_file_dt_bench_did_not_write_is_refused_and_kept(tmp_path, name, content):
    out = tmp_path / "figures"
    out.mkdir()
    (out / name).write_bytes(content)
    line = one_line_error(cli(*ARGS, "-o", out))
    assert line == (f"error: --output '{out}' holds {name}, which dt bench did not write and would replace or "
                    "remove; pass another --output, or move that file away")
    assert sorted(p.name for p in out.iterdir()) == [name]   # no results/, no lock: refused before any work
    assert (out / name).read_bytes() == content


def test_a_foreign_bench_json_does_not_let_a_dt_analyze_report_through(tmp_path):
    out = tmp_path / "analysis"
    out.mkdir()
    (out / "report.json").write_text(json.dumps({"schema_version": 1, "trackers": [{"result_dir": "x/mine"}]}))
    (out / "bench.json").write_text("{}")
    line = one_line_error(cli(*ARGS, "-o", out))
    assert "holds bench.json, which dt bench did not write" in line
    assert (out / "report.json").is_file()


def test_its_own_folder_runs_again_also_when_cut_short(tmp_path):
    out = tmp_path / "bench"
    assert cli(*ARGS, "-o", out).exit_code == 0
    assert {"success.png", "latency.png", "bench.md", "report.json"} <= {p.name for p in out.iterdir()}
    res = cli(*ARGS, "-o", out)   # a rerun
    assert res.exit_code == 0, res.output
    # killed while its old report was removed (bench.json first) or before its new bench.json was written
    for gone in (["bench.json"], ["bench.json", "report.json"], ["bench.json", "report.json", "bench.md"]):
        for name in gone:
            (out / name).unlink()
        res = cli(*ARGS, "-o", out, "--resume")
        assert res.exit_code == 0, res.output
        assert (out / "bench.json").is_file()
