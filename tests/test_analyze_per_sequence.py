"""dt analyze showed per-sequence scores only as the ten largest gaps between the first two trackers: with a third
tracker (a classic baseline beside two models) its per-sequence scores were nowhere on screen, and on a long benchmark
most sequences of the first two were not either (pytracking's print_per_sequence_results and pysot-toolkit's
--show_video_level print every one). `--per-sequence` prints every scored sequence's headline score for every
tracker."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.console import Console

from droptrack.eval import results as R
from droptrack.eval.attributes_view import print_items, sequence_table
from droptrack.eval.report import analyze
from helpers import FakeSeq, cli, img, text

GT = np.array([[30.0, 40.0, 60.0, 30.0]] * 6)   # x, y, w, h on every frame


def _shifted(dx: float) -> np.ndarray:
    out = GT.copy()
    out[:, 0] += dx
    return out


# OPE success: IoU > t at t = 0, 0.05, ..., 1 (21 thresholds), averaged over the 6 frames; the first frame is the
# ground truth's (as pytracking scores it). The same box passes 20 thresholds on every frame (95.2), a box shifted by
# a third of its width (IoU (2/3) / (4/3) = 0.5) passes 0 .. 0.45, 10 of them, on frames 1-5: (20 + 5 x 10) / 126 =
# 55.6, and a box shifted by its full width (IoU 0) none there: 20 / 126 = 15.9.
EXACT, HALF, NONE = 0.0, 20.0, 60.0


def _report(tmp_path):
    seqs = [FakeSeq(name, "otb", GT.copy()) for name in ("s0", "s1")]
    shifts = {"A": (EXACT, HALF), "B": (NONE, EXACT), "C": (HALF, NONE)}
    for tracker, per in shifts.items():
        for s, dx in zip(seqs, per):
            R.write_result(tmp_path / tracker / f"{s.name}.txt", _shifted(dx))
    return analyze([tmp_path / t for t in shifts], seqs)


def test_every_sequence_of_every_tracker_is_a_row(tmp_path):
    buf = io.StringIO()
    print_items(Console(file=buf, width=120), [sequence_table(_report(tmp_path))])
    out = buf.getvalue()
    assert "AUC per sequence (2 sequences)" in out
    assert re.search(r"┃ Sequence +┃ +T1 ┃ +T2 ┃ +T3 ┃ T1 - T2 ┃", out), out
    assert re.search(r"│ s0 +│ +95\.2 │ +15\.9 │ +55\.6 │ +\+79\.4 │", out), out
    assert re.search(r"│ s1 +│ +55\.6 │ +95\.2 │ +15\.9 │ +-39\.7 │", out), out
    assert [ln.strip() for ln in out.splitlines() if ln.strip().startswith("T")] == ["T1: A", "T2: B", "T3: C"]


@pytest.mark.parametrize("flag", [[], ["--per-sequence"]])
def test_dt_analyze_prints_it_with_the_flag(tmp_path, flag):
    for name in ("Deer", "Dog"):
        text(tmp_path / "otb" / name / "groundtruth_rect.txt", "10,10,20,20\n" * 4)
        for i in range(1, 5):
            img(tmp_path / "otb" / name / "img" / f"{i:04d}.jpg", size=(64, 48))
        R.write_result(tmp_path / "res" / "mine" / f"{name}.txt", np.array([[10, 10, 20, 20]] * 4))
    res = cli("analyze", tmp_path / "res" / "mine", "--dataset", "otb", "--root", tmp_path / "otb", "-o",
              tmp_path / "an", *flag)
    assert res.exit_code == 0, res.output
    rows = [ln for ln in res.output.splitlines() if re.match(r"│ (Deer|Dog) +│ +95\.2 │$", ln)]
    assert len(rows) == (2 if flag else 0), res.output
