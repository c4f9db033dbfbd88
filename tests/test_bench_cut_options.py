"""`dt bench --sequences 0` / `--frames 1` are refused before any work: exit 2, one line, and no output folder is
made (they were checked only after every artifact and the reference had been loaded)."""

from __future__ import annotations

import pytest
from helpers import cli


@pytest.mark.parametrize("option, value, line", [
    ("--sequences", "0", "error: --sequences 0 is too small; use at least 1"),
    ("--frames", "1", "error: --frames 1 is too small; use at least 2"),
])
def test_too_small_a_cut_is_refused_before_the_output_is_made(tmp_path, option, value, line):
    frames = tmp_path / "clip"   # a folder of images: the checks hold for every kind of data, not only synthetic
    frames.mkdir()
    out = tmp_path / "bench"
    res = cli("bench", "--tracker", "csrt", "--data", frames, option, value, "--output", out)
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [line]
    assert not out.exists()
