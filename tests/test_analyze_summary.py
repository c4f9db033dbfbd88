"""`dt analyze` ends by naming every file it wrote: report.json and the plots beside it (it named report.json only,
so the success, precision and normalized-precision plots the README promises had to be looked for), with control
characters in the names escaped."""

from __future__ import annotations

import shutil

import pytest

from droptrack.data.synth import generate_synth
from helpers import cli

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def analyze_perfect(tmp_path, out, tracker="perfect"):
    """`dt analyze -o out` of a tracker (its folder's name) whose boxes are a small set's ground truth."""
    root = generate_synth(tmp_path / "set", 2, 3, seed=1, split="val", size=(96, 64))
    result = tmp_path / "results" / tracker
    result.mkdir(parents=True)
    for seq in ("synth_val_00001", "synth_val_00002"):   # the ground truth as a tracker's boxes
        shutil.copy(root / seq / "groundtruth.txt", result / f"{seq}.txt")
    return cli("analyze", result, "--dataset", "synth", "--root", root, "-o", out)


def test_the_summary_names_the_plots_it_drew(tmp_path):
    out = tmp_path / "my analysis"
    res = analyze_perfect(tmp_path, out, tracker="run:smile:1")
    assert res.exit_code == 0, res.output
    # the table's row names the tracker as it is: escaping markup left ':smile:' to rich, an emoji
    assert any(ln.startswith("│ run:smile:1 ") for ln in res.output.splitlines()), res.output
    plots = next(ln for ln in res.output.splitlines() if ln.startswith("plots: ")).removeprefix("plots: ").split("  ")
    assert plots == [str(out / f"{name}.png") for name in ("success", "precision", "norm_precision")]
    assert all((out / f"{name}.png").stat().st_size > 0 for name in ("success", "precision", "norm_precision"))


def test_the_report_and_plots_are_named_with_control_characters_escaped(tmp_path):
    """An --output holding control characters reached the terminal raw in these lines (an escape sequence that clears
    the screen, swallowed from the name where it is not a terminal); it is escaped, as in every error line."""
    out = tmp_path / "a\x1b[2J"
    res = analyze_perfect(tmp_path, out)
    assert res.exit_code == 0 and (out / "report.json").is_file(), res.output
    shown = f"{tmp_path}/a\\x1b[2J"
    assert f"report: {shown}/report.json" in res.output.splitlines(), res.output
    plots = next(ln for ln in res.output.splitlines() if ln.startswith("plots: "))
    assert plots.removeprefix("plots: ").split("  ")[0] == f"{shown}/success.png", res.output
