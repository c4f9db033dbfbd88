"""A synthetic sequence whose ground truth has NaN on a frame its cover label calls in view: dt eval refuses it
before tracking (the GOT-10k toolkit's report beside it would leave it out), and dt analyze now refuses it the
same way under every protocol; it scored the frame as an absent target under ostrack-ope (AUC 92.06) and left the
sequence out with a note under got10k-toolkit, without a word on the contradiction."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.data.synth import generate_synth
from droptrack.eval.results import write_result
from tests.helpers import cli, one_line_error


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nancover")
    root = generate_synth(tmp / "set", sequences=2, frames=6, seed=3, size=(96, 72))
    seq = sorted(p for p in root.iterdir() if p.is_dir())[1]
    cover = np.loadtxt(seq / "cover.label")
    assert cover[4] > 0   # in view on frame 4
    for s in sorted(p for p in root.iterdir() if p.is_dir()):
        write_result(tmp / "res" / "t" / f"{s.name}.txt", np.loadtxt(s / "groundtruth.txt", delimiter=","))
    lines = (seq / "groundtruth.txt").read_text().splitlines()
    lines[4] = "NaN,NaN,NaN,NaN"
    (seq / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    return root, tmp / "res" / "t", seq.name


@pytest.mark.parametrize("protocol", [[], ["--protocol", "got10k-toolkit"]])
def test_dt_analyze_refuses_it_as_dt_eval_does(data, tmp_path, protocol):
    root, res, name = data
    line = one_line_error(cli("analyze", res, "--dataset", "synth", "--root", root, "-o", tmp_path / "an", *protocol))
    assert f"{name}: ground-truth row 4 has NaN on a frame with cover > 0" in line
    assert not (tmp_path / "an").exists()
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf", "-o", tmp_path / "ev",
                              "--workers", "1", "--threads", "1"))
    assert f"{name}: ground-truth row 4 has NaN on a frame with cover > 0" in line
