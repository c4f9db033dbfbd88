"""`dt eval --dataset synth` of a train set wrote results/synth/default; a val set's `--tracker kcf` run then wrote
results/synth/kcf beside it, so one results folder mixed two splits and `dt analyze results/synth/default
results/synth/kcf` failed on 'no sequence could be scored for every tracker (default: no result file for
synth_val_00001 ...)'. The second run is now refused in one line naming the split's own folder (--split val:
results/synth_val), and dt analyze given folders of two splits says so in one line."""

import json
import os

from droptrack.data import generate_synth
from helpers import cli, one_line_error


def _sets(tmp_path):
    """A train set and a val set, two short sequences each."""
    train = generate_synth(tmp_path / "s", 2, 3, seed=0, size=(96, 64), split="train")
    val = generate_synth(tmp_path / "a", 2, 3, seed=1, size=(96, 64), split="val")
    return train, val


def test_a_second_split_beside_another_splits_results_is_refused(tmp_path, monkeypatch):
    train, val = _sets(tmp_path)
    monkeypatch.chdir(tmp_path)
    first = cli("eval", "--dataset", "synth", "--root", train, "--tracker", "csrt")
    assert first.exit_code == 0, first.output
    before = sorted(os.listdir(tmp_path / "results" / "synth"))
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", val, "--tracker", "kcf"))
    assert line == ("error: results/synth holds results of the train split of synth (csrt), this run is of the val "
                    "split; a results folder holds one split (dt analyze compares its tracker folders); pass --split "
                    "val without --output (results/synth_val), or another --output")
    assert sorted(os.listdir(tmp_path / "results" / "synth")) == before == ["csrt"]   # nothing written
    # the fix it names: the val split's own folder
    ok = cli("eval", "--dataset", "synth", "--root", val, "--tracker", "kcf", "--split", "val")
    assert ok.exit_code == 0, ok.output
    assert json.loads((tmp_path / "results" / "synth_val" / "kcf" / "eval.json").read_text())["split"] == "val"
    # the same split beside it is fine
    same = cli("eval", "--dataset", "synth", "--root", train, "--tracker", "kcf")
    assert same.exit_code == 0, same.output
    assert sorted(os.listdir(tmp_path / "results" / "synth")) == ["csrt", "kcf"]


def test_analyze_of_two_splits_results_says_so(tmp_path, monkeypatch):
    train, val = _sets(tmp_path)
    monkeypatch.chdir(tmp_path)
    for root, split in ((train, "train"), (val, "val")):
        run = cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf", "--split", split)
        assert run.exit_code == 0, run.output
    line = one_line_error(cli("analyze", "results/synth_train/kcf", "results/synth_val/kcf", "--dataset", "synth",
                              "--root", val, "-o", tmp_path / "an"))
    assert line == ("error: the result folders hold results of different splits (results/synth_train/kcf the train "
                    "split, results/synth_val/kcf the val split, by their eval.json), so no sequence has results "
                    "from both; analyze the folders of one split together, with that split's --root")
    assert not (tmp_path / "an").exists()
