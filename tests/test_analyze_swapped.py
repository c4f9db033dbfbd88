"""`dt analyze DATASET --root RESULTS` (the result folder and the dataset root swapped) said only 'no sequences to
score; check the dataset name, root and split'; it now names the folder that holds a dataset and the fix."""

from __future__ import annotations

from helpers import cli, drifting_clip, one_line_error


def test_a_dataset_given_as_the_result_folder_is_named(tmp_path, monkeypatch):
    data, results = tmp_path / "set", tmp_path / "res"
    (data / "seq_a").mkdir(parents=True)
    drifting_clip(data / "seq_a", 3)
    (data / "seq_a" / "groundtruth.txt").write_text("30,22,26,20\n" * 3)
    results.mkdir()
    (results / "seq_a.txt").write_text("30,22,26,20\n" * 3)
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("analyze", data, "--dataset", "synth", "--root", results, "-o", "an"))
    assert f"'{data}' holds a dataset" in line and "swapped with --root?" in line, line
    assert not (tmp_path / "an").exists()
    res = cli("analyze", results, "--dataset", "synth", "--root", data, "-o", "an")   # the right way round
    assert res.exit_code == 0, res.output
