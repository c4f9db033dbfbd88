"""`dt eval --dataset SYNTH` and then `--dataset synth` wrote results/SYNTH and results/synth: the second run tracked
everything again instead of resuming, and dt analyze's default folder split the same way. The default folders are
named by the lower-case name."""

from __future__ import annotations

import pytest

from droptrack.data.synth import generate_synth
from helpers import cli

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def test_another_spelling_of_the_dataset_resumes_in_the_same_folder(tmp_path, monkeypatch):
    root = generate_synth(tmp_path / "set", 1, 3, seed=1, split="val", size=(96, 64))
    monkeypatch.chdir(tmp_path)
    first = cli("eval", "--dataset", "SYNTH", "--root", root)
    assert first.exit_code == 0 and "1 tracked, 0 resumed" in first.output, first.output
    again = cli("eval", "--dataset", "synth", "--root", root)
    assert again.exit_code == 0 and "0 tracked, 1 resumed" in again.output, again.output
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["synth"]
    assert cli("analyze", "results/synth/default", "--dataset", "Synth", "--root", root).exit_code == 0
    assert (tmp_path / "analysis" / "synth" / "report.json").is_file()
