"""Counts far beyond any use are one line, exit 2, before any work: `dt data synth --sequences 1e20` built a list of
names until memory ran out (a MemoryError traceback), and `dt export --val-sequences 1e20` did so after the FP32
export."""

from __future__ import annotations

from pathlib import Path

from helpers import cli, one_line_error

HUGE = "99999999999999999999"


def test_synth_sequences_beyond_the_names_digits(tmp_path: Path):
    line = one_line_error(cli("data", "synth", tmp_path / "o", "--sequences", HUGE, "--frames", "3", "--split", "val"))
    assert f"--sequences {HUGE} is more than 99999" in line, line
    assert not (tmp_path / "o").exists()


def test_export_val_sequences_beyond_a_synthetic_sets_names(tmp_path: Path):
    out = tmp_path / "exp"
    line = one_line_error(cli("export", "-o", out, "--int8", "--int8-target", "ort", "--calib-pairs", "8",
                              "--auto-precision", "--val-frames", "3", "--val-sequences", HUGE))
    assert f"--val-sequences {HUGE} is more than 99999" in line, line
    assert not out.exists()
