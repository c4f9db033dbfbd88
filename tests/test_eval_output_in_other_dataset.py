"""`dt eval -o` inside another dataset's folder (a sequence folder of another synthetic set, that set's root) was
accepted: results written there are read as that set's input by the next run on it. Refused in one line, exit 2,
nothing written."""

from droptrack.data import generate_synth
from helpers import cli, one_line_error


def test_output_inside_another_set_is_refused(tmp_path):
    mine = generate_synth(tmp_path / "a", 1, 3, seed=0, size=(96, 64), split="val")
    other = generate_synth(tmp_path / "b", 1, 3, seed=1, size=(96, 64), split="val")
    seq = next(p for p in sorted(tmp_path.joinpath("b").rglob("groundtruth.txt"))).parent
    before = sorted(str(p) for p in tmp_path.joinpath("b").rglob("*"))
    for out in (seq / "res", seq, other, tmp_path / "b" / "new" / "deeper"):
        line = one_line_error(cli("eval", "--dataset", "synth", "--root", mine, "--tracker", "kcf", "-o", out))
        assert "inside the dataset folder" in line and "pass an output folder outside it" in line
    assert sorted(str(p) for p in tmp_path.joinpath("b").rglob("*")) == before


def test_output_beside_the_sets_is_fine(tmp_path):
    mine = generate_synth(tmp_path / "a", 1, 3, seed=0, size=(96, 64), split="val")
    generate_synth(tmp_path / "b", 1, 3, seed=1, size=(96, 64), split="val")
    res = cli("eval", "--dataset", "synth", "--root", mine, "--tracker", "kcf", "-o", tmp_path / "results")
    assert res.exit_code == 0, res.output
