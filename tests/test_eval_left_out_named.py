"""A sequence dt eval tracked but its report could not score (a LaSOT ground-truth row -inf,y,inf,h, whose overlap
is NaN) was left out of the averages with only '1/2 sequences' and 'Errors 1' in the table: the reason came from dt
analyze alone. dt eval now names it under the table, as dt analyze does. (A NaN row, the first such case, is now
refused before any work: tests/test_nan_gt_refused_up_front.py.)"""

import cv2
import numpy as np

from helpers import cli


def _lasot_seq(folder, bad_row=None):
    """An 8-frame LaSOT sequence (img/, groundtruth.txt, full_occlusion.txt, out_of_view.txt) of a drifting block."""
    (folder / "img").mkdir(parents=True)
    rows = []
    for i in range(8):
        f = np.full((64, 96, 3), 40, np.uint8)
        f[15 + i // 2:31 + i // 2, 20 + i:40 + i] = 220
        cv2.imwrite(str(folder / "img" / f"{i + 1:08d}.jpg"), f)
        rows.append("-inf,15,inf,16" if i == bad_row else f"{20 + i},{15 + i // 2},20,16")
    (folder / "groundtruth.txt").write_text("\n".join(rows) + "\n")
    for flags in ("full_occlusion.txt", "out_of_view.txt"):
        (folder / flags).write_text(",".join(["0"] * 8) + "\n")


def test_a_sequence_the_report_leaves_out_is_named_by_dt_eval(tmp_path):
    root = tmp_path / "lasot"
    _lasot_seq(root / "airplane" / "airplane-1", bad_row=2)
    _lasot_seq(root / "airplane" / "airplane-13")
    res = cli("eval", "--dataset", "lasot", "--root", root, "--tracker", "kcf", "--output", tmp_path / "out",
              "--sequences", "airplane-1,airplane-13")
    assert res.exit_code == 0, res.output
    assert "1/2 sequences" in res.output
    lines = [ln for ln in res.output.splitlines() if "left out" in ln]
    assert lines == ["kcf: airplane-1 left out of every tracker's averages: airplane-1: NaN overlap on a valid "
                     "frame; check the boxes for inf values"], res.output


def test_no_sequence_left_names_the_ground_truth_as_what_to_fix(tmp_path):
    # its only sequence left out for its ground truth: the line said to 'fix the result files'; the results are kept
    root = tmp_path / "lasot"
    _lasot_seq(root / "airplane" / "airplane-1", bad_row=2)
    out = tmp_path / "out"
    res = cli("eval", "--dataset", "lasot", "--root", root, "--tracker", "kcf", "--output", out,
              "--sequences", "airplane-1")
    assert res.exit_code == 2
    line = res.output.strip().splitlines()[-1]
    assert line.startswith("error: no sequence could be scored for every tracker (kcf: airplane-1: NaN overlap on a "
                           "valid frame") and line.endswith("; fix the result file or ground truth named there, and run "
                                                        "again"), line
    assert (out / "kcf" / "airplane-1.txt").is_file()
