"""A sequence dt eval tracked but its report could not score (a result row -inf,y,inf,h, whose overlap is NaN) was
left out of the averages with only '1/2 sequences' and 'Errors 1' in the table: the reason came from dt analyze
alone. dt eval now names it under the table, as dt analyze does, without numpy's 'invalid value' warnings. (Such a
ground-truth row, NaN or infinite, is refused before any work: tests/test_nan_gt_refused_up_front.py; here a kept
result file holds it, as a finished sequence that a rerun resumes.)"""

import warnings

import cv2
import numpy as np

from helpers import cli


def _lasot_seq(folder):
    """An 8-frame LaSOT sequence (img/, groundtruth.txt, full_occlusion.txt, out_of_view.txt) of a drifting block."""
    (folder / "img").mkdir(parents=True)
    rows = []
    for i in range(8):
        f = np.full((64, 96, 3), 40, np.uint8)
        f[15 + i // 2:31 + i // 2, 20 + i:40 + i] = 220
        cv2.imwrite(str(folder / "img" / f"{i + 1:08d}.jpg"), f)
        rows.append(f"{20 + i},{15 + i // 2},20,16")
    (folder / "groundtruth.txt").write_text("\n".join(rows) + "\n")
    for flags in ("full_occlusion.txt", "out_of_view.txt"):
        (folder / flags).write_text(",".join(["0"] * 8) + "\n")


def _tracked_then_inf(args, result):
    """dt eval ARGS once, then `result`'s row 2 replaced by -inf,15,inf,16, then the same command again (it resumes the
    finished sequences, so it only scores); the second run's CliRunner result, with no numpy warning raised."""
    assert cli(*args).exit_code == 0
    rows = result.read_text().splitlines()
    rows[2] = "-inf\t15\tinf\t16"
    result.write_text("\n".join(rows) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return cli(*args)


def test_a_sequence_the_report_leaves_out_is_named_by_dt_eval(tmp_path):
    root = tmp_path / "lasot"
    _lasot_seq(root / "airplane" / "airplane-1")
    _lasot_seq(root / "airplane" / "airplane-13")
    out = tmp_path / "out"
    res = _tracked_then_inf(("eval", "--dataset", "lasot", "--root", root, "--tracker", "kcf", "--output", out,
                             "--sequences", "airplane-1,airplane-13"), out / "kcf" / "airplane-1.txt")
    assert res.exit_code == 0, res.output
    assert "1/2 sequences" in res.output
    lines = [ln for ln in res.output.splitlines() if "left out" in ln]
    assert lines == ["kcf: airplane-1 left out of every tracker's averages: airplane-1: NaN overlap on a valid "
                     "frame; check the boxes for inf values"], res.output


def test_no_sequence_left_names_the_ground_truth_as_what_to_fix(tmp_path):
    # its only sequence left out: the line names the result file or ground truth to fix; the results are kept
    root = tmp_path / "lasot"
    _lasot_seq(root / "airplane" / "airplane-1")
    out = tmp_path / "out"
    res = _tracked_then_inf(("eval", "--dataset", "lasot", "--root", root, "--tracker", "kcf", "--output", out,
                             "--sequences", "airplane-1"), out / "kcf" / "airplane-1.txt")
    assert res.exit_code == 2
    line = res.output.strip().splitlines()[-1]
    assert line.startswith("error: no sequence could be scored for every tracker (kcf: airplane-1: NaN overlap on a "
                           "valid frame") and line.endswith("; fix the result file or ground truth named there, and run "
                                                        "again"), line
    assert (out / "kcf" / "airplane-1.txt").is_file()
