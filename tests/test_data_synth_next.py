"""`dt data synth` ends with what it made and the command to run next (it printed only the folder), a line that
pastes as it reads: scoring a val/test set, fine-tuning on a train set."""

from __future__ import annotations

import shlex

from doc_commands import problems
from helpers import cli


def next_words(result) -> list[str]:
    """The words of the `next:` line of a finished command."""
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith("next: "))
    return shlex.split(line.removeprefix("next: "))


def test_a_val_set_names_the_eval_command_that_scores_it(tmp_path):
    out = tmp_path / "my sét"
    res = cli("data", "synth", out, "--split", "val", "-n", "1", "--frames", "3")
    assert f"synthetic set: {out} (1 sequence x 3 frames, val split)" in res.output
    words = next_words(res)
    assert words == ["dt", "eval", "--dataset", "synth", "--root", str(out), "--split", "val"]
    scored = cli(*words[1:], "-o", tmp_path / "results")   # the advised command, pasted, scores the set
    assert scored.exit_code == 0 and "synth_val_00001" in (tmp_path / "results" / "default" / "eval.json").read_text()


def test_the_lines_of_a_val_and_a_test_set_name_their_split_and_both_paste(tmp_path, monkeypatch):
    """The eval line left out --split: pasted for a val set, then for a test set, both wrote to results/synth, and
    the second was refused there ('holds results of the val split'). Each now names its split, as made."""
    monkeypatch.chdir(tmp_path)
    val = next_words(cli("data", "synth", "v", "--split", "val", "-n", "1", "--frames", "3"))
    test = next_words(cli("data", "synth", "t", "--split", "test", "--attributes", "blur", "-n", "1", "--frames", "30"))
    assert val[-2:] == ["--split", "val"] and test[-2:] == ["--split", "test"]
    for words in (val, test):
        assert cli(*words[1:]).exit_code == 0
    assert "synth_val_00001" in (tmp_path / "results" / "synth_val" / "default" / "eval.json").read_text()
    assert "synth_test_00001" in (tmp_path / "results" / "synth_test" / "default" / "eval.json").read_text()


def test_a_train_set_names_a_valid_train_command_on_it(tmp_path):
    out = tmp_path / "train set"
    words = next_words(cli("data", "synth", out, "-n", "1", "--frames", "20"))   # dt train draws pairs from 20+
    assert words[:2] == ["dt", "train"] and not problems(words[1:])
    assert words[words.index("--data") + 1] == str(out) and words[words.index("--config") + 1] == "droptrack_tiny_synth"
    assert words[words.index("--pretrained") + 1].endswith("droptrack_tiny_synth.pt")


def test_the_train_hint_is_a_trial_of_minutes_and_says_so(tmp_path):
    """The advised `dt train` ran the config's 50 epochs of 4096 pairs: about four hours on a 2-core CPU, for a
    line that reads as the next step; README's quick trial is --epochs 2 --samples-per-epoch 256."""
    res = cli("data", "synth", tmp_path / "set", "-n", "1", "--frames", "20")
    words = next_words(res)
    assert words[words.index("--epochs") + 1] == "2" and words[words.index("--samples-per-epoch") + 1] == "256"
    assert "drop --epochs and --samples-per-epoch" in res.output


def test_a_finished_training_with_val_data_names_the_eval_that_scores_it(tmp_path, monkeypatch):
    """It said `dt eval --dataset NAME -m final.pt`; with --val-data the held-out folder is known: the line runs."""
    monkeypatch.chdir(tmp_path)
    assert cli("data", "synth", "mine", "-n", "1", "--frames", "20").exit_code == 0
    assert cli("data", "synth", "held", "--split", "val", "-n", "1", "--frames", "3").exit_code == 0
    res = cli("train", "-c", "tiny_ce_test", "--data", "mine", "--val-data", "held", "-o", "runs/trial", "--epochs",
              "1", "--samples-per-epoch", "2", "--batch-size", "2", "--workers", "0")
    assert res.exit_code == 0, res.output
    score = res.output.splitlines()[-1].split("(or score it: ")[1].rstrip(")")
    assert shlex.split(score) == ["dt", "eval", "--dataset", "synth", "--root", "held", "-m",
                                  "runs/trial/final.pt", "--name", "trial"]
    assert cli(*shlex.split(score)[1:]).exit_code == 0


def test_a_finished_training_without_val_data_names_an_eval_with_marked_placeholders(tmp_path, monkeypatch):
    """Without --val-data it said `dt eval --dataset NAME -m final.pt`: no --root, and NAME read as a dataset name
    ('unknown dataset'), so the line ran for nobody as printed. It is now the --val-data line with the held-out
    folder as an upper-case placeholder (as dt export's VIDEO --init X,Y,W,H), said what it stands for; the same
    command with that folder filled in runs."""
    monkeypatch.chdir(tmp_path)
    assert cli("data", "synth", "mine", "-n", "1", "--frames", "20").exit_code == 0
    assert cli("data", "synth", "held", "--split", "val", "-n", "1", "--frames", "3").exit_code == 0
    res = cli("train", "-c", "tiny_ce_test", "--data", "mine", "-o", "runs/trial", "--epochs", "1",
              "--samples-per-epoch", "2", "--batch-size", "2", "--workers", "0")
    assert res.exit_code == 0, res.output
    last = res.output.splitlines()[-1]
    said, score = last.split("(or score it on held-out sequences, HELDOUT a folder in the GOT-10k layout: ")
    assert said.startswith("next: dt export "), last
    words = shlex.split(score.rstrip(")"))
    assert words == ["dt", "eval", "--dataset", "synth", "--root", "HELDOUT", "-m", "runs/trial/final.pt", "--name",
                     "trial"], last
    assert not problems(words[1:])
    words[words.index("HELDOUT")] = "held"
    assert cli(*words[1:]).exit_code == 0
