"""`dt analyze` ends by naming report.json and the plots: an --output holding control characters reached the
terminal raw (an escape sequence that clears the screen, swallowed from the name where it is not a terminal); it is
escaped now, as in every error line."""

from __future__ import annotations

import shutil

import pytest

from droptrack.data.synth import generate_synth
from helpers import cli

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def test_the_report_and_plots_are_named_with_control_characters_escaped(tmp_path):
    root = generate_synth(tmp_path / "set", 2, 3, seed=1, split="val", size=(96, 64))
    result = tmp_path / "results" / "perfect"
    result.mkdir(parents=True)
    for seq in ("synth_val_00001", "synth_val_00002"):   # the ground truth as a tracker's boxes
        shutil.copy(root / seq / "groundtruth.txt", result / f"{seq}.txt")
    out = tmp_path / "a\x1b[2J"
    res = cli("analyze", result, "--dataset", "synth", "--root", root, "-o", out)
    assert res.exit_code == 0 and (out / "report.json").is_file(), res.output
    shown = f"{tmp_path}/a\\x1b[2J"
    assert f"report: {shown}/report.json" in res.output.splitlines(), res.output
    plots = next(ln for ln in res.output.splitlines() if ln.startswith("plots: "))
    assert plots.removeprefix("plots: ").split("  ")[0] == f"{shown}/success.png", res.output
