"""dt train refused an --output that was the --data folder itself, but took one inside it (`--data syn --output
syn/sub`) and wrote checkpoints and logs among the sequences, where dt eval, bench and analyze refuse any output
inside a dataset folder. It is refused now too: one line, exit 2, before any folder is made."""

from __future__ import annotations

import pytest
from helpers import cli, one_line_error

from droptrack.data.synth import generate_synth

SMALL = ["--config", "tiny_ce_test", "--epochs", "1", "--samples-per-epoch", "4", "--batch-size", "2",
         "--workers", "0"]


@pytest.fixture(scope="module")
def holder(tmp_path_factory):
    """A folder holding a tiny synthetic train set in train/ (the folder itself has no dataset marker)."""
    root = tmp_path_factory.mktemp("data") / "holder"
    generate_synth(root / "train", sequences=1, frames=24, seed=0, size=(96, 72))
    return root


@pytest.mark.parametrize("where", ["set", "sequence", "root"])
def test_output_inside_a_dataset_folder_is_refused(holder, where):
    data = holder / "train"
    sequence = next(p for p in sorted(data.iterdir()) if (p / "groundtruth.txt").is_file())
    out = {"set": data / "sub", "sequence": sequence / "runs", "root": holder / "runs"}[where]
    given = holder if where == "root" else data   # --data: the set, or a folder above it with no marker
    msg = one_line_error(cli("train", *SMALL, "--data", f"SYNTH={given}", "--output", out))
    assert msg.startswith(f"error: --output '{out}' is inside the dataset folder '"), msg
    assert not out.exists()


def test_output_beside_the_data_is_taken(holder, tmp_path):
    res = cli("train", *SMALL, "--data", f"SYNTH={holder / 'train'}", "--output", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "final.pt").is_file()
