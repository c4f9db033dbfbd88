"""`dt bench -o` and `dt analyze -o` inside a dataset folder (a sequence folder of another synthetic set, that set's
root, or the synthetic --root a bench reads or makes its set in) were accepted: results and plots written there are
read as that set's input by the next run on it. Refused in one line, exit 2, before any work, as `dt eval` does."""

from __future__ import annotations

from droptrack.data import generate_synth
from helpers import cli, one_line_error


def _tree(folder) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*"))


def test_bench_output_inside_a_dataset_folder_is_refused(tmp_path):
    mine = generate_synth(tmp_path / "a", 1, 3, seed=0, size=(96, 64), split="val")
    other = generate_synth(tmp_path / "b", 1, 3, seed=1, size=(96, 64), split="val")
    seq = next(p for p in sorted(other.rglob("groundtruth.txt"))).parent
    before = _tree(tmp_path)
    for out in (seq / "res", seq, other / "new" / "deeper"):
        line = one_line_error(cli("bench", "--tracker", "kcf", "--data", mine, "-o", out))
        assert "inside the dataset folder" in line and "pass an output folder outside it" in line, line
    for out in (mine / "bench", tmp_path / "c" / "bench"):   # the synthetic set's --root, made there or read
        line = one_line_error(cli("bench", "--tracker", "kcf", "--data", "synthetic", "--root", out.parent,
                                  "--sequences", "1", "--frames", "3", "-o", out))
        assert "inside the --root folder" in line and "pass an output folder outside it" in line, line
    assert _tree(tmp_path) == before   # nothing made, not even the output folder


def test_analyze_output_inside_another_dataset_folder_is_refused(tmp_path):
    mine = generate_synth(tmp_path / "a", 1, 3, seed=0, size=(96, 64), split="val")
    other = generate_synth(tmp_path / "b", 1, 3, seed=1, size=(96, 64), split="val")
    res = cli("eval", "--dataset", "synth", "--root", mine, "--tracker", "kcf", "-o", tmp_path / "results")
    assert res.exit_code == 0, res.output
    seq = next(p for p in sorted(other.rglob("groundtruth.txt"))).parent
    before = _tree(other)
    for out in (seq / "an", seq, other / "new" / "deeper"):
        line = one_line_error(cli("analyze", tmp_path / "results" / "kcf", "--dataset", "synth", "--root", mine,
                                  "-o", out))
        assert "inside the dataset folder" in line and "pass an output folder outside it" in line, line
    assert _tree(other) == before
    res = cli("analyze", tmp_path / "results" / "kcf", "--dataset", "synth", "--root", mine, "-o", tmp_path / "an")
    assert res.exit_code == 0, res.output   # beside the sets is fine
