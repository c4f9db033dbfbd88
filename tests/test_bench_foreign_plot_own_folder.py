"""A figure of the user's saved under a plot's name (latency.png, success.png) in a folder an earlier dt bench wrote
(its bench.json there) was replaced by the next dt bench: the foreign-plot check ran only in folders without a
bench.json. It is now refused before any work, in one line (exit 2), and kept byte for byte."""

from __future__ import annotations

import pytest
from helpers import cli, one_line_error

ARGS = ["bench", "--tracker", "kcf", "--sequences", "1", "--frames", "3"]
MINE = b"\x89PNG\r\n\x1a\nmy own figure"


@pytest.mark.parametrize("name", ["latency.png", "success.png"])
def test_a_foreign_plot_in_a_dt_bench_folder_is_refused_and_kept(tmp_path, name):
    out = tmp_path / "bench"
    assert cli(*ARGS, "-o", out).exit_code == 0
    (out / name).write_bytes(MINE)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    line = one_line_error(cli(*ARGS, "-o", out))
    assert line == (f"error: --output '{out}' holds {name}, which dt bench did not write and would replace or "
                    "remove; pass another --output, or move that file away")
    assert (out / name).read_bytes() == MINE
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before   # nothing touched: before any work
