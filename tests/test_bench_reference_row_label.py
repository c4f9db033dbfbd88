"""dt demo benches its checkpoint as a row that is its own PyTorch reference: its curves were labelled with the bare
name ('droptrack_tiny_synth') where dt bench's separate reference reads 'reference (PyTorch FP32)', and the table
says '— (reference)'. The curves of such a row now say '(reference)' too."""

from __future__ import annotations

import json

from helpers import cli

from droptrack.data import generate_synth


def test_a_row_that_is_its_own_reference_is_labelled_so_in_the_curves(tiny_ckpt, tmp_path):
    synth = generate_synth(tmp_path / "s", sequences=1, frames=4, seed=0, size=(160, 120), split="val")
    res = cli("bench", tiny_ckpt, "--data", synth, "--threads", "1", "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [t["name"] for t in report["trackers"]] == [f"{tiny_ckpt.stem} (reference)"], report["trackers"]
