"""`dt bench --min-fps inf` was accepted and then failed every row (no FPS is >= inf); it is now refused with the
other bad gate values (nan, negative, zero; --max-divergence inf) in one line, exit 2, before any work. An infinite
--max-auc-drop stays accepted: it means 'no AUC limit' (test_bench_infinite_gate)."""

from __future__ import annotations

import pytest
from helpers import cli, one_line_error

ARGS = ["bench", "--tracker", "kcf", "--sequences", "1", "--frames", "3"]


@pytest.mark.parametrize("value", ["inf", "nan", "-5", "0"])
def test_a_min_fps_that_no_row_can_pass_or_that_means_nothing_is_refused(tmp_path, value):
    out = tmp_path / "bench"
    line = one_line_error(cli(*ARGS, "--min-fps", value, "-o", out))
    shown = {"inf": "inf", "nan": "nan", "-5": "-5.0", "0": "0.0"}[value]
    assert line == f"error: --min-fps {shown} must be a finite number > 0 (frames per second, e.g. 30)"
    assert not out.exists()   # before any work


@pytest.mark.parametrize("flag, value, message", [
    ("--max-auc-drop", "nan", "--max-auc-drop nan must be >= 0"),
    ("--max-auc-drop", "-1", "--max-auc-drop -1.0 must be >= 0"),
    ("--max-divergence", "nan", "--max-divergence nan must be in [0, 1)"),
    ("--max-divergence", "inf", "--max-divergence inf must be in [0, 1)"),
    ("--max-divergence", "-0.1", "--max-divergence -0.1 must be in [0, 1)")])
def test_the_model_gates_refuse_nan_inf_and_negative_values(tiny_ckpt, tmp_path, flag, value, message):
    out = tmp_path / "bench"
    line = one_line_error(cli("bench", tiny_ckpt, "--sequences", "1", "--frames", "3", flag, value, "-o", out))
    assert line.startswith(f"error: {message}")
    assert not out.exists()


def test_a_finite_min_fps_still_gates(tmp_path):
    res = cli(*ARGS, "--min-fps", "0.001", "-o", tmp_path / "bench")
    assert res.exit_code == 0, res.output
