"""dt bench --tracker kcf --data CLIP --init X,Y,W,H (no ground truth, no artifact) said that every row, the reference
too, is scored against the reference's boxes, 95.24 the most it reaches: there is no reference, and the row's AUC is
'-'. The line now says the rows are timed, not scored, and how to score them."""

from __future__ import annotations

import pytest

pytest.importorskip("cv2")

from helpers import cli, drifting_clip  # noqa: E402


def test_opencv_rows_without_ground_truth_or_reference_are_said_to_be_timed_only(tmp_path):
    clip = tmp_path / "clip"
    clip.mkdir()
    drifting_clip(clip, 4)
    res = cli("bench", "--tracker", "kcf", "--data", clip, "--init", "30,22,26,20", "-o", tmp_path / "bench")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert not any("the reference too" in ln or "95.24" in ln for ln in lines), res.output
    assert any(ln.startswith("no ground truth here and no model") and "timed, not scored" in ln
               for ln in lines), res.output
    row = next(ln for ln in lines if ln.startswith("│ kcf"))
    assert [c.strip() for c in row.split("│")][6] == "-", row   # the AUC cell: nothing scored it
