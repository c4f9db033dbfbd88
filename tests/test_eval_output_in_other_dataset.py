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


def test_name_that_makes_the_results_folder_a_dataset_is_refused(tmp_path):
    """-o PARENT --name ROOT put the results folder at the dataset's root (or at another set's): checked was -o only,
    so results, report and plots went into the set; a clip's results file then read as its ground truth (a tracker
    scored against its own boxes). The results folder -o/--name is checked as -o is; nothing is written."""
    mine = generate_synth(tmp_path / "a", 1, 3, seed=0, size=(96, 64), split="val")
    generate_synth(tmp_path / "b", 1, 3, seed=1, size=(96, 64), split="val")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for name, what in (("a", "inside the dataset root"), ("b", "inside the dataset folder")):
        line = one_line_error(cli("eval", "--dataset", "synth", "--root", mine, "--tracker", "kcf", "-o", tmp_path,
                                  "--name", name))
        assert line.startswith(f"error: --name's results folder '{tmp_path / name}' is") and what in line, line
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_a_model_named_as_a_set_beside_it_is_refused(tmp_path):
    """Without --name the results folder is named after the model: b.onnx with -o PARENT is PARENT/b, the set b."""
    import shutil

    from droptrack.model.default import default_checkpoint

    mine = generate_synth(tmp_path / "a", 1, 3, seed=0, size=(96, 64), split="val")
    generate_synth(tmp_path / "b", 1, 3, seed=1, size=(96, 64), split="val")
    (tmp_path / "m").mkdir()
    model = shutil.copy(default_checkpoint(), tmp_path / "m" / "b.pt")
    before = sorted(str(p) for p in tmp_path.joinpath("b").rglob("*"))
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", mine, "-m", model, "-o", tmp_path))
    assert line.startswith(f"error: this tracker's results folder '{tmp_path / 'b'}' is inside the dataset folder")
    assert sorted(str(p) for p in tmp_path.joinpath("b").rglob("*")) == before
