"""`dt bench model.onnx --reference other.pt` where the graph was exported from another checkpoint: the bench runs
(a deliberate comparison is allowed) but says that its ΔAUC and divergence compare two models, not the export."""

from __future__ import annotations

import json

import torch
from helpers import cli

from droptrack.config import load_config
from droptrack.data import generate_synth
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint


def test_a_reference_other_than_the_exported_checkpoint_is_named(onnx_model, tmp_path):
    torch.manual_seed(1)   # tiny_ckpt (seed 0) is what onnx_model was exported from
    cfg = load_config("tiny_ce_test")
    other = save_checkpoint(tmp_path / "other.pt", build_model(cfg).eval(), cfg)
    synth = generate_synth(tmp_path / "synth", sequences=1, frames=4, seed=0, size=(160, 120), split="val")
    out = tmp_path / "bench"
    res = cli("bench", onnx_model, "--reference", other, "--data", synth, "--output", out, "--threads", "1")
    assert res.exit_code in (0, 1) and "Traceback" not in res.output, res.output
    notes = json.loads((out / "bench.json").read_text())["notes"]
    said = [n for n in notes if "other.pt" in n and "exported from another checkpoint" in n]
    assert len(said) == 1, notes
    assert said[0] in res.output   # on the terminal too


def test_the_reference_it_was_exported_from_gets_no_such_note(onnx_model, tiny_ckpt, tmp_path):
    synth = generate_synth(tmp_path / "synth", sequences=1, frames=4, seed=0, size=(160, 120), split="val")
    out = tmp_path / "bench"
    res = cli("bench", onnx_model, "--reference", tiny_ckpt, "--data", synth, "--output", out, "--threads", "1")
    assert res.exit_code in (0, 1) and "Traceback" not in res.output, res.output
    notes = json.loads((out / "bench.json").read_text())["notes"]
    assert not [n for n in notes if "exported from another checkpoint" in n], notes
