"""`dt bench` on frames without ground truth (a video or an image folder with --init) scores every row against the
reference's boxes: the reference is tracked, then scored in a second call that finds its sequences done. A fresh
bench then said 'droptrack: 1 of 1 sequence resumed from ...; latency was measured again', and bench.json gave the
reference row eval.tracked 0, resumed 1 and no procedure."""

from __future__ import annotations

import json

import cv2
import numpy as np
import torch

from droptrack.config import load_config
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint
from helpers import cli


def test_a_fresh_bench_without_ground_truth_says_the_reference_was_tracked(tmp_path):
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    ckpt = save_checkpoint(tmp_path / "tiny.pt", build_model(cfg).eval(), cfg)
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        cv2.imwrite(str(frames / f"{i:04d}.png"), rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))
    out = tmp_path / "out"
    res = cli("bench", ckpt, "--data", frames, "--init", "30,20,24,18", "--threads", "1", "-o", out)
    assert res.exit_code == 0, res.output
    assert "resumed" not in res.output, res.output
    row = json.loads((out / "bench.json").read_text())["rows"][0]
    assert (row["eval"]["tracked"], row["eval"]["resumed"]) == (1, 0)
    assert row["procedure"] and row["latency"]["frames"] > 0


def test_no_note_qualifies_the_reference_row_against_itself(tmp_path):
    """On one sequence every row got 'ΔAUC +0.00 points comes from 1 sequence, ... the gate judges one sequence, not
    the artifact', the reference row too, whose ΔAUC is against itself; the artifacts' rows keep the note."""
    import shutil

    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    ckpt = save_checkpoint(tmp_path / "tiny.pt", build_model(cfg).eval(), cfg)
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        cv2.imwrite(str(frames / f"{i:04d}.png"), rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))
    other = tmp_path / "copy" / "tiny2.pt"
    other.parent.mkdir()
    shutil.copyfile(ckpt, other)   # the same weights under another name: a row with the same reference
    out = tmp_path / "out"
    res = cli("bench", ckpt, other, "--reference", ckpt, "--data", frames, "--init", "30,20,24,18", "--threads", "1",
              "-o", out)
    assert res.exit_code == 0, res.output
    notes = json.loads((out / "bench.json").read_text())["notes"]
    assert [n.split(":")[0] for n in notes if "comes from 1 sequence" in n] == ["tiny2"], notes
