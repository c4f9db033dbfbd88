"""`dt train --val-data` on one's own held-out footage whose box files mark an absent target with NaN,NaN,NaN,NaN
rows (README): training runs, and the validation AUC in train.log is the one `dt eval` reports for the saved
checkpoint on that folder."""

from __future__ import annotations

import re

import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.train.trainer import TrainOptions, train
from helpers import eval_auc


@pytest.mark.parametrize("labels", [False, True], ids=["own-footage", "with-labels"])
def test_val_data_with_nan_rows_trains_and_its_auc_is_dt_evals(tmp_path, synth, labels):
    from droptrack.data.synth import generate_synth

    held = generate_synth(tmp_path / "held", sequences=2, frames=12, seed=1, size=(160, 120), split="val")
    for seq in sorted(p for p in held.iterdir() if p.is_dir()):
        if not labels:   # one's own footage: frames and groundtruth.txt alone
            for f in seq.iterdir():
                if f.suffix in (".label", ".ini"):
                    f.unlink()
        for name, absent in (("groundtruth.txt", "NaN,NaN,NaN,NaN"), ("cover.label", "0"), ("absence.label", "1")):
            if (seq / name).is_file():   # GOT-10k's labels, where kept, say the same: target absent, cover 0
                rows = (seq / name).read_text().splitlines()
                rows[4:8] = [absent] * 4
                (seq / name).write_text("\n".join(rows) + "\n")
    out = tmp_path / "v"
    train(TrainOptions(config="tiny_ce_test", output=out, data=[str(synth)], epochs=1, batch_size=4,
                       samples_per_epoch=8, workers=0, seed=3, quiet=True, val_data=held, val_every=1))
    val_auc = torch.load(out / "final.pt", weights_only=True)["history"][-1]["val_auc"]
    logged = re.search(r"validation AUC (\d\.\d{3})", (out / "train.log").read_text())
    assert logged and float(logged.group(1)) == pytest.approx(val_auc, abs=5e-4)
    assert val_auc == pytest.approx(eval_auc(held, out / "final.pt", tmp_path), abs=1e-12)


def test_val_data_whose_cover_labels_contradict_a_nan_row_is_refused_before_training(tmp_path, synth):
    """GOT-10k labels saying the target is in view (cover 8) on a frame whose box is NaN: `dt eval` refuses the
    sequence (the GOT-10k toolkit's AO would be NaN), so the folder cannot be scored as validation scored it; refused
    in one line before training (validation used to score it, and the run's suggested `dt eval` then failed)."""
    from droptrack.data.synth import generate_synth

    held = generate_synth(tmp_path / "held", sequences=2, frames=12, seed=1, size=(160, 120), split="val")
    seq = sorted(p for p in held.iterdir() if p.is_dir())[1]
    rows = (seq / "groundtruth.txt").read_text().splitlines()
    rows[5] = "NaN,NaN,NaN,NaN"
    (seq / "groundtruth.txt").write_text("\n".join(rows) + "\n")
    out = tmp_path / "v"
    result = CliRunner().invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(out), "--data", str(synth),
                                      "--val-data", str(held), "--epochs", "1", "--batch-size", "4",
                                      "--samples-per-epoch", "8", "--workers", "0", "--device", "cpu"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: --val-data '{held}': {seq.name}: ground-truth row 5 has "
                                                   "NaN on a frame with cover > 0"), result.output
    assert not (out / "last.pt").exists()
