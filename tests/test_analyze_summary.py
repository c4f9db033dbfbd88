"""`dt analyze` ends by naming every file it wrote: report.json and the plots beside it (it named report.json only,
so the success, precision and normalized-precision plots the README promises had to be looked for)."""

from __future__ import annotations

import shutil

import pytest

from droptrack.data.synth import generate_synth
from helpers import cli

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def test_the_summary_names_the_plots_it_drew(tmp_path):
    root = generate_synth(tmp_path / "set", 2, 3, seed=1, split="val", size=(96, 64))
    result = tmp_path / "results" / "perfect"
    result.mkdir(parents=True)
    for seq in ("synth_val_00001", "synth_val_00002"):   # the ground truth as a tracker's boxes
        shutil.copy(root / seq / "groundtruth.txt", result / f"{seq}.txt")
    out = tmp_path / "my analysis"
    res = cli("analyze", result, "--dataset", "synth", "--root", root, "-o", out)
    assert res.exit_code == 0, res.output
    plots = next(ln for ln in res.output.splitlines() if ln.startswith("plots: ")).removeprefix("plots: ").split("  ")
    assert plots == [str(out / f"{name}.png") for name in ("success", "precision", "norm_precision")]
    assert all((out / f"{name}.png").stat().st_size > 0 for name in ("success", "precision", "norm_precision"))
