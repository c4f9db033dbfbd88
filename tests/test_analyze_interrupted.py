"""dt analyze stopped (Ctrl-C: 130, SIGTERM: 143) says in one line that its report was not written and how to write
it, as dt eval says what it saved; the --output folder it made for the report is removed again while empty, and an
earlier report there is kept."""

from __future__ import annotations

import shutil
import signal

import pytest

import droptrack.eval.report_plots as report_plots
from droptrack.data.synth import generate_synth
from droptrack.signals import Stopped
from helpers import cli


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A 2-sequence val set and its ground truth as a tracker's result folder: (root, result folder)."""
    tmp = tmp_path_factory.mktemp("analyze")
    root = generate_synth(tmp / "set", sequences=2, frames=4, seed=0, size=(64, 64), split="val")
    res = tmp / "res" / "gt"
    res.mkdir(parents=True)
    for seq in ("synth_val_00001", "synth_val_00002"):
        shutil.copy(root / seq / "groundtruth.txt", res / f"{seq}.txt")
    return root, res


def analyze(scored, out):
    root, res = scored
    return cli("analyze", res, "--dataset", "synth", "--root", root, "-o", out)


def test_ctrl_c_while_drawing_says_so_in_one_line_and_leaves_no_folder(scored, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_plots, "draw_plots", interrupted)
    out = tmp_path / "analysis" / "synth"
    r = analyze(scored, out)
    assert r.exit_code == 130, r.output
    assert r.output.splitlines() == [f"interrupted before the report in '{out}' was complete (none was written; the "
                                     "result folders are only read); run the same command to write it"]
    assert list(tmp_path.iterdir()) == []   # analysis/ and analysis/synth were made for the report: gone again


def test_sigterm_keeps_the_earlier_report_and_exits_143(scored, tmp_path, monkeypatch):
    out = tmp_path / "analysis"
    assert analyze(scored, out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def stopped(*args, **kwargs):
        raise Stopped(signal.SIGTERM)

    monkeypatch.setattr(report_plots, "draw_plots", stopped)
    r = analyze(scored, out)
    assert r.exit_code == 143, r.output
    assert r.output.splitlines() == [f"stopped by SIGTERM before the report in '{out}' was complete (the earlier "
                                     "report there is kept; the result folders are only read); run the same command "
                                     "to write it"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
