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
    assert words == ["dt", "eval", "--dataset", "synth", "--root", str(out)]
    scored = cli(*words[1:], "-o", tmp_path / "results")   # the advised command, pasted, scores the set
    assert scored.exit_code == 0 and "synth_val_00001" in (tmp_path / "results" / "default" / "eval.json").read_text()


def test_a_train_set_names_a_valid_train_command_on_it(tmp_path):
    out = tmp_path / "train set"
    words = next_words(cli("data", "synth", out, "-n", "1", "--frames", "2"))
    assert words[:2] == ["dt", "train"] and not problems(words[1:])
    assert words[words.index("--data") + 1] == str(out) and words[words.index("--config") + 1] == "droptrack_tiny_synth"
    assert words[words.index("--pretrained") + 1].endswith("droptrack_tiny_synth.pt")
