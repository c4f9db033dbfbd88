"""`dt eval --dataset got10k --root data/got10k/test` (a split folder as the root, no --split) read the test split
but wrote results/got10k, the folder of the top root's default val split: a val run there was refused (or the
other way round), and dt analyze wrote analysis/got10k. A split folder as the root is that split, as `--root TOP
--split IT` reads it: results/got10k_test (and results/got10k_val), TrackingNet's TEST/ chunk likewise."""

import json
import os
import shlex

from droptrack.data import generate_synth
from helpers import cli, img, one_line_error, text


def _got10k(tmp_path):
    """A GOT-10k root: val/ and test/, two short sequences each."""
    root = tmp_path / "got10k"
    generate_synth(root / "val", 2, 3, seed=0, size=(96, 64), split="val")
    generate_synth(root / "test", 2, 3, seed=1, size=(96, 64), split="train")
    return root


def test_a_got10k_split_folder_as_the_root_writes_that_splits_folder(tmp_path, monkeypatch):
    root = _got10k(tmp_path)
    monkeypatch.chdir(tmp_path)
    test = cli("eval", "--dataset", "got10k", "--root", root / "test", "--tracker", "kcf")
    assert test.exit_code == 0, test.output
    assert os.listdir(tmp_path / "results") == ["got10k_test"]
    out = tmp_path / "results" / "got10k_test" / "kcf"
    assert json.loads((out / "eval.json").read_text())["split"] == "test"
    # the val folder as the root next: its own folder, not refused as 'holds results of the test split'
    val = cli("eval", "--dataset", "got10k", "--root", root / "val", "--tracker", "kcf")
    assert val.exit_code == 0, val.output
    assert sorted(os.listdir(tmp_path / "results")) == ["got10k_test", "got10k_val"]
    # the same as --root TOP --split val: that run resumes there (nothing tracked again)
    again = cli("eval", "--dataset", "got10k", "--root", root, "--split", "val", "--tracker", "kcf")
    assert again.exit_code == 0 and "0 tracked, 2 resumed" in again.output, again.output
    # its next line's dt analyze writes analysis/got10k_val, as --split val does
    nxt = next(ln for ln in val.output.splitlines() if ln.startswith("next: "))
    assert "--split" not in nxt and "results/got10k_val/kcf" in nxt.replace(os.sep, "/"), nxt
    assert cli(*shlex.split(nxt.removeprefix("next: "))[1:]).exit_code == 0
    assert os.listdir(tmp_path / "analysis") == ["got10k_val"]


def test_a_trackingnet_chunk_folder_as_the_root_writes_that_chunks_folder(tmp_path, monkeypatch):
    chunk = tmp_path / "trackingnet" / "TEST"
    text(chunk / "anno" / "abc_0.txt", "10,12,30,20\n")
    for i in range(3):
        img(chunk / "frames" / "abc_0" / f"{i}.jpg", size=(96, 64))
    monkeypatch.chdir(tmp_path)
    res = cli("eval", "--dataset", "trackingnet", "--root", chunk, "--tracker", "kcf")
    assert res.exit_code == 0, res.output
    assert os.listdir(tmp_path / "results") == ["trackingnet_test"]   # as --split TEST names it


def test_two_synthetic_split_folders_do_not_mix_in_one_folder(tmp_path, monkeypatch):
    # `--root set/val` then `--root set/train` (dt data synth's split folders, their synth.json naming the split) both
    # wrote results/synth/kcf with no split recorded: the train run's submission and report replaced the val run's
    root = tmp_path / "set"
    generate_synth(root / "val", 2, 3, seed=0, size=(96, 64), split="val")
    generate_synth(root / "train", 2, 3, seed=1, size=(96, 64), split="train")
    monkeypatch.chdir(tmp_path)
    val = cli("eval", "--dataset", "synth", "--root", root / "val", "--tracker", "kcf")
    assert val.exit_code == 0, val.output
    out = tmp_path / "results" / "synth" / "kcf"
    assert json.loads((out / "eval.json").read_text())["split"] == "val"
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    train = cli("eval", "--dataset", "synth", "--root", root / "train", "--tracker", "kcf")
    line = one_line_error(train)
    assert "holds results of the val split of synth, now the train split" in line, line
    assert "--split train without --output (results" in line, line
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before   # nothing written
    fixed = cli("eval", "--dataset", "synth", "--root", root / "train", "--split", "train", "--tracker", "kcf")
    assert fixed.exit_code == 0, fixed.output
    assert sorted(os.listdir(tmp_path / "results")) == ["synth", "synth_train"]
    # the top root's default split (val) resumes the val folder's results
    top = cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf")
    assert top.exit_code == 0 and "0 tracked, 2 resumed" in top.output, top.output


def test_results_an_older_dt_eval_wrote_for_a_split_folder_root_are_named(tmp_path, monkeypatch):
    # the same command before this change wrote results/got10k: its rerun now says where they are
    root = _got10k(tmp_path)
    monkeypatch.chdir(tmp_path)
    old = cli("eval", "--dataset", "got10k", "--root", root / "test", "--tracker", "kcf", "--output", "results/got10k",
              "--sequences", "synth_train_00001")
    assert old.exit_code == 0, old.output
    res = cli("eval", "--dataset", "got10k", "--root", root / "test", "--tracker", "kcf")
    assert res.exit_code == 0, res.output
    notes = [ln for ln in res.output.splitlines() if ln.startswith("note: ")]
    assert len(notes) == 1 and notes[0].endswith(f"pass --output {os.path.join('results', 'got10k')}"), res.output
    assert sorted(os.listdir(tmp_path / "results")) == ["got10k", "got10k_test"]
