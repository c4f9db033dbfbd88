"""`dt eval --dataset synth` on a synthetic train set notes that the scores may be on training photos; the note names
the model that was scored (-m FILE or --tracker NAME), not "the default model" as if that one had been run."""

from __future__ import annotations

import pytest

from droptrack.data import generate_synth
from helpers import cli


def _note(res) -> str:
    assert res.exit_code == 0, res.output
    return next(line for line in res.output.splitlines() if "training photos" in line)


def test_note_names_the_checkpoint_given_with_m(tiny_ckpt, tmp_path):
    root = generate_synth(tmp_path / "train", sequences=1, frames=4, seed=0, size=(96, 72), split="train")
    note = _note(cli("eval", "--dataset", "synth", "--root", root, "-m", tiny_ckpt, "--output", tmp_path / "out",
                     "--threads", 1))
    assert str(tiny_ckpt) in note and "--split val" in note
    assert "so these scores are on training photos" not in note   # the default model's wording: not this run's


def test_note_for_a_classic_tracker_says_it_learns_nothing(tmp_path):
    pytest.importorskip("cv2")
    root = generate_synth(tmp_path / "train", sequences=1, frames=4, seed=0, size=(96, 72), split="train")
    note = _note(cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf", "--output", tmp_path / "out"))
    assert "kcf learns nothing" in note


def test_default_model_keeps_its_note():
    from droptrack.eval.bench_data import train_split_note

    note = train_split_note("SET")
    assert note.startswith("SET is a synthetic set of the train split: the default model was trained on its photos, "
                           "so these scores are on training photos")
