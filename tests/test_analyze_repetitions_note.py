"""dt analyze on GOT-10k-style repetition files (`<seq>/<seq>_001.txt`, `_002.txt`) under a one-pass protocol scores
the first run, and now says so (the others were dropped without a word); a `<seq>.txt` beside such a folder is the
one scored, and that is said too. Under got10k-toolkit the repetitions are pooled, as the toolkit does (AO 0.5 for
one run equal to the ground truth and one disjoint from it, hand-computed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from droptrack.data.synth import generate_synth
from droptrack.eval.results import write_result
from tests.helpers import cli


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reps")
    root = generate_synth(tmp / "set", sequences=2, frames=6, seed=4, size=(96, 72))
    seqs = sorted(p for p in root.iterdir() if p.is_dir())
    res = tmp / "res" / "t"
    for s in seqs:
        gt = np.loadtxt(s / "groundtruth.txt", delimiter=",")
        far = gt.copy()
        far[1:, :2] += 500.0   # disjoint after the first frame
        write_result(res / s.name / f"{s.name}_001.txt", gt)
        write_result(res / s.name / f"{s.name}_002.txt", far)
    return root, res, seqs


def test_one_pass_scores_the_first_run_and_says_so(data, tmp_path):
    root, res, seqs = data
    out = cli("analyze", res, "--dataset", "synth", "--root", root, "-o", tmp_path / "a")
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert f"{seqs[0].name}_001.txt scored, the first of 2 repetitions" in text
    pooled = cli("analyze", res, "--dataset", "synth", "--root", root, "-o", tmp_path / "b",
                 "--protocol", "got10k-toolkit")
    assert pooled.exit_code == 0, pooled.output
    assert "repetitions" not in " ".join(pooled.output.split())
    scores = json.loads((tmp_path / "b" / "report.json").read_text())["trackers"][0]["scores"]
    assert scores["ao"] == pytest.approx(0.5)


def test_a_flat_file_beside_a_folder_of_repetitions_is_named(data, tmp_path):
    root, res, seqs = data
    flat = tmp_path / "flat"
    import shutil

    shutil.copytree(res, flat)
    gt = np.loadtxt(seqs[0] / "groundtruth.txt", delimiter=",")
    write_result(flat / f"{seqs[0].name}.txt", gt)
    out = cli("analyze", flat, "--dataset", "synth", "--root", root, "-o", tmp_path / "c")
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert f"{seqs[0].name}.txt scored; the 2 repetition files in" in text and "were left out" in text
