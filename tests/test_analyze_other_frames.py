"""dt analyze of a dt eval folder against a dataset root whose sequences have the same names but other frames (another
root, a regenerated set): those results are not scored against a ground truth they never saw (it printed a table
of AUC 6 for a tracker that scored 36 on its own set, with only row-count notes)."""

from __future__ import annotations

import json

from helpers import cli, one_line_error


def test_results_of_other_frames_are_not_scored(tmp_path):
    mine, other = tmp_path / "mine", tmp_path / "other"
    for root, seed in ((mine, 0), (other, 1)):
        assert cli("data", "synth", root, "-n", "2", "--frames", "10", "--split", "val", "--seed", seed).exit_code == 0
    assert cli("eval", "--dataset", "synth", "--root", mine, "--tracker", "kcf", "-o", tmp_path / "r").exit_code == 0
    res = cli("analyze", tmp_path / "r" / "kcf", "--dataset", "synth", "--root", mine, "-o", tmp_path / "a")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "a" / "report.json").read_text())["sequences"] == ["synth_val_00001",
                                                                                   "synth_val_00002"]
    line = one_line_error(cli("analyze", tmp_path / "r" / "kcf", "--dataset", "synth", "--root", other, "-o",
                              tmp_path / "b"))
    assert "tracked on other frames" in line and "synth_val_00001" in line, line
