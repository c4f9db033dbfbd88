"""`dt eval --dataset synth --root DIR` of one's own sequences (a GOT-10k-layout folder without synth.json, so no
split to name a folder by) wrote into results/synth whatever DIR was: a second such set then either mixed its
results into the first one's tracker folder or, with the same sequence names on other frames, was refused. Each
such set now has its own default folder named after DIR (results/synth_<folder>, analysis/synth_<folder>); a
`dt data synth` set (its synth.json names its split) keeps results/synth."""

from __future__ import annotations

import json
import os

from droptrack.data import generate_synth
from helpers import cli


def _own_set(path, seed):
    """One's own sequences in the GOT-10k layout (<seq>/00000001.jpg ..., groundtruth.txt; no synth.json): two of
    6 frames, a bright block drifting on noise drawn from `seed`."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    for name in ("bike", "walk"):
        (path / name).mkdir(parents=True)
        rows = []
        for i in range(6):
            img = rng.integers(0, 80, (64, 96, 3), dtype=np.uint8)
            img[20:36, 30 + i:50 + i] = 230
            cv2.imwrite(str(path / name / f"{i + 1:08d}.jpg"), img)
            rows.append(f"{30 + i},20,20,16")
        (path / name / "groundtruth.txt").write_text("\n".join(rows) + "\n")
    return path


def test_two_own_sets_keep_separate_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one, two = _own_set(tmp_path / "My Set-2", 0), _own_set(tmp_path / "cams", 1)
    assert sorted(os.listdir(one)) == sorted(os.listdir(two))   # the same sequence names, other frames
    for root in (one, two):
        res = cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf")
        assert res.exit_code == 0, res.output
    # "My Set-2": lower case, each run of other characters one "_"
    assert sorted(os.listdir("results")) == ["synth_cams", "synth_my_set_2"]
    inputs = [json.loads(open(f"results/{d}/kcf/eval.json").read())["inputs"] for d in ("synth_my_set_2", "synth_cams")]
    assert inputs[0].keys() == inputs[1].keys() and inputs[0] != inputs[1]   # each folder holds its own set's results
    for d in ("synth_my_set_2", "synth_cams"):
        assert json.loads(open(f"results/{d}/kcf/report.json").read())["trackers"][0]["n_scored"] == 2
    # a rerun resumes in its own folder; dt analyze's default folder follows the same name
    res = cli("eval", "--dataset", "synth", "--root", one, "--tracker", "kcf")
    assert res.exit_code == 0 and "0 tracked, 2 resumed" in res.output, res.output
    res = cli("analyze", "results/synth_cams/kcf", "--dataset", "synth", "--root", two)
    assert res.exit_code == 0, res.output
    assert os.path.isfile("analysis/synth_cams/report.json")


def test_a_generated_set_keeps_results_synth(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = generate_synth(tmp_path / "gen", 2, 6, seed=0, size=(96, 64), split="val")
    res = cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf")
    assert res.exit_code == 0, res.output
    assert sorted(os.listdir("results")) == ["synth"]


def test_same_named_sets_in_two_parents_are_refused_not_mixed(tmp_path, monkeypatch):
    """a/cams and b/cams share the default results/synth_cams: the second set's sequences (same names, other frames)
    are refused before any tracking, naming --output as the fix, not resumed from the first set's results."""
    monkeypatch.chdir(tmp_path)
    one, two = _own_set(tmp_path / "a" / "cams", 0), _own_set(tmp_path / "b" / "cams", 1)
    assert cli("eval", "--dataset", "synth", "--root", one, "--tracker", "kcf").exit_code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "results" / "synth_cams" / "kcf").glob("*.txt")}
    res = cli("eval", "--dataset", "synth", "--root", two, "--tracker", "kcf")
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    line = res.output.strip().splitlines()[-1]
    assert line.startswith("error: results/synth_cams/kcf holds results of ") and "tracked on other frames" in line
    assert line.endswith("pass another --output or delete that folder"), line
    assert {p.name: p.read_bytes() for p in (tmp_path / "results" / "synth_cams" / "kcf").glob("*.txt")} == before
    res = cli("eval", "--dataset", "synth", "--root", two, "--tracker", "kcf", "--output", "results/b_cams")
    assert res.exit_code == 0 and "2 tracked" in res.output, res.output
