"""--val-data naming the sequences the run trains on (the --data root again) is said: its 'validation AUC' read as
a held-out score, without a word. A GOT-10k-layout root, trained on train/ and scored on val/, is not."""

from __future__ import annotations

import shutil

from droptrack.data.synth import generate_synth
from tests.helpers import cli

QUICK = ["--config", "tiny_ce_test", "--epochs", "1", "--samples-per-epoch", "8", "--batch-size", "4", "--workers",
         "0", "--device", "cpu", "--threads", "1", "--stop-after", "1"]


def test_validation_on_the_training_sequences_is_said(tmp_path, synth):
    same = cli("train", *QUICK, "--data", synth, "--val-data", synth, "--output", tmp_path / "same")
    assert same.exit_code == 0, same.output
    said = " ".join(same.output.split())
    assert f"warning: --val-data '{synth}': 3 of the 3 sequence(s) it tracks are trained on (" in said, said
    assert "no held-out score" in said, said
    root = tmp_path / "got10k"   # the GOT-10k layout: train/ trained on, val/ scored
    shutil.copytree(synth, root / "train")
    generate_synth(root / "val", sequences=2, frames=24, seed=1, size=(160, 120), split="val")
    apart = cli("train", *QUICK, "--data", root, "--val-data", root, "--output", tmp_path / "apart")
    assert apart.exit_code == 0, apart.output
    assert "held-out" not in apart.output, apart.output
