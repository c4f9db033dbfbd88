"""`dt eval --sequences` with a name not in a synthetic set given as --root: the error names that set, not a
'train' split it is not (a val set was called 'synth train')."""

from __future__ import annotations

from helpers import cli, one_line_error


def test_unknown_sequence_of_a_val_set_names_the_set(tmp_path):
    root = tmp_path / "heldout"
    assert cli("data", "synth", root, "-n", "1", "--frames", "20", "--split", "val").exit_code == 0
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", root, "-o", tmp_path / "ev", "--tracker",
                              "kcf", "--sequences", "nope"))
    assert "'nope'" in line and str(root) in line and "train" not in line, line
