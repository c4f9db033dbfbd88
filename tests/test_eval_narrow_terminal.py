"""`dt eval` in a terminal narrower than its scores table (COLUMNS=60) cut the table: the FPS and Errors columns
were lost ('│ default │ 59.60 │ ... │  49'). It is printed whole, as dt analyze prints its tables."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data.synth import generate_synth

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def test_the_scores_table_keeps_every_column_in_a_narrow_terminal(tmp_path):
    root = generate_synth(tmp_path / "set", 1, 3, seed=1, split="val", size=(96, 64))
    res = CliRunner().invoke(app, ["eval", "--dataset", "synth", "--root", str(root), "-o", str(tmp_path / "res")],
                             env={"COLUMNS": "60"})
    assert res.exit_code == 0, res.output
    header = next(ln for ln in res.output.splitlines() if "Tracker" in ln)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == ["Tracker", "AUC", "P", "NP", "OP50", "OP75", "FPS",
                                                                 "Errors"]
    row = next(ln for ln in res.output.splitlines() if ln.startswith("│ default"))
    assert row.rstrip().endswith("│      0 │"), row   # the Errors cell: no sequence failed
