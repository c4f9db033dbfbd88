"""A NaN ground-truth row in LaSOT, OTB and the other sets whose toolkit raises "NaNs in annotation" (OSTrack's and
pytracking's analysis; metrics.md 3.1: every tag but 'uav') was found only when the report scored the sequence: dt
eval tracked every sequence first and then left it out (or failed, none left), dt analyze scored the others. Both
now refuse it before any work, in one line naming the sequence, the row and the fix. UAV123, whose annotations mark
an absent target with NaN rows, still runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from droptrack.eval.results import write_result
from helpers import cli, one_line_error

BOX = "20,15,16,16"
ROWS = [BOX, BOX, "NaN,NaN,NaN,NaN", BOX, BOX]   # frame 2 (from 0) is NaN


def _frames(folder, names):
    """Noise frames with a bright square where BOX is (something for the tracker to follow)."""
    cv2 = pytest.importorskip("cv2")
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in names:
        img = rng.integers(0, 80, (48, 64, 3), dtype=np.uint8)
        img[15:31, 20:36] = 230
        cv2.imwrite(str(folder / name), img)


def _lasot(root, rows_of):
    """root/cat/<name>/ with img/, groundtruth.txt and the two flag files, one per entry of rows_of."""
    for name, rows in rows_of.items():
        seq = root / "cat" / name
        _frames(seq / "img", [f"{i:08d}.jpg" for i in range(1, len(rows) + 1)])
        (seq / "groundtruth.txt").write_text("\n".join(rows) + "\n")
        for flags in ("full_occlusion.txt", "out_of_view.txt"):
            (seq / flags).write_text(",".join("0" * len(rows)) + "\n")
    return root


def _otb(root, name, rows):
    """root/<name>/ with img/0001.jpg ... and groundtruth_rect.txt."""
    _frames(root / name / "img", [f"{i:04d}.jpg" for i in range(1, len(rows) + 1)])
    (root / name / "groundtruth_rect.txt").write_text("\n".join(rows) + "\n")
    return root


def _uav(root, stem, rows):
    """root/anno/UAV123/<stem>.txt and root/data_seq/UAV123/<stem>/000001.jpg ..."""
    _frames(root / "data_seq" / "UAV123" / stem, [f"{i:06d}.jpg" for i in range(1, len(rows) + 1)])
    (root / "anno" / "UAV123").mkdir(parents=True)
    (root / "anno" / "UAV123" / f"{stem}.txt").write_text("\n".join(rows) + "\n")
    return root


def _eval_refused(tmp_path, root, sequences):
    """dt eval --dataset otb of `sequences` with KCF: its one error line, checked to leave no output folder."""
    res = cli("eval", "--dataset", "otb", "--root", root, "--sequences", sequences, "--tracker", "kcf",
              "--output", tmp_path / "out")
    line = one_line_error(res)
    assert not (tmp_path / "out").exists()
    return line


def _analyze_refused(tmp_path, root, name, frames, *options):
    """dt analyze --dataset otb of a result of `name` that follows BOX: its one error line, no output folder."""
    write_result(tmp_path / "res" / f"{name}.txt", np.array([[20.0, 15, 16, 16]] * frames))
    res = cli("analyze", tmp_path / "res", "--dataset", "otb", "--root", root, *options, "--sequences", name,
              "-o", tmp_path / "an")
    line = one_line_error(res)
    assert not (tmp_path / "an").exists()
    return line


def test_lasot_nan_row_refused_before_tracking_and_scoring(tmp_path):
    root = _lasot(tmp_path / "lasot", {"cat-1": [BOX] * 5, "cat-3": ROWS})
    out = tmp_path / "out"
    res = cli("eval", "--dataset", "lasot", "--root", root, "--sequences", "cat-1,cat-3", "--tracker", "kcf",
              "--output", out)
    assert one_line_error(res) == (
        "error: cat-3: ground-truth row 2 (frame 2, from 0) has NaN, which OSTrack's analysis refuses on lasot "
        "(\"NaNs in annotation\"; only UAV123 and one's own footage mark an absent target so); restore that row "
        "from the dataset's archive, or leave it out with --sequences")
    assert not out.exists()   # nothing tracked, no folder made
    # dt analyze: refused before any result file is read (it scored cat-1 and left cat-3 out with an error)
    for name in ("cat-1", "cat-3"):
        write_result(tmp_path / "res" / "trk" / f"{name}.txt", np.array([[20.0, 15, 16, 16]] * 5))
    res = cli("analyze", tmp_path / "res" / "trk", "--dataset", "lasot", "--root", root, "--sequences",
              "cat-1,cat-3", "-o", tmp_path / "an")
    assert one_line_error(res).startswith("error: cat-3: ground-truth row 2 (frame 2, from 0) has NaN")
    assert not (tmp_path / "an").exists()
    # the fix named: leaving it out runs
    res = cli("eval", "--dataset", "lasot", "--root", root, "--sequences", "cat-1", "--tracker", "kcf",
              "--output", out)
    assert res.exit_code == 0, res.output
    assert (out / "kcf" / "cat-1.txt").is_file()


def test_otb_nan_rows_in_two_sequences_named_once(tmp_path):
    root = _otb(tmp_path / "otb", "Basketball", [BOX, "nan,nan,nan,nan", BOX])
    _otb(root, "Biker", [BOX, BOX, BOX, "NaN,1,2,3"])
    assert _eval_refused(tmp_path, root, "Basketball,Biker") == (
        "error: Basketball: ground-truth row 1 (frame 1, from 0) has NaN (and 1 other sequence alike), which "
        "OSTrack's analysis refuses on otb (\"NaNs in annotation\"; only UAV123 and one's own footage mark an "
        "absent target so); restore that row from the dataset's archive, or leave them out with --sequences")
    assert "Biker: ground-truth row 3 (frame 3, from 0) has NaN, which pytracking's analysis refuses on otb" in \
        _analyze_refused(tmp_path, root, "Biker", 4, "--protocol", "pytracking-ope")


def test_uav123_nan_rows_still_run(tmp_path):
    """UAV123 marks an absent target with NaN rows; pytracking's 'uav' rule scores such a frame as invalid (IoU -1:
    no success threshold passed; centre error -1: a precision hit at every threshold)."""
    root = _uav(tmp_path / "uav", "bike1", ROWS)
    res = cli("eval", "--dataset", "uav", "--root", root, "--tracker", "kcf", "--output", tmp_path / "out")
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "out" / "kcf" / "report.json").read_text())
    assert report["sequences"] == ["uav_bike1"] and report["trackers"][0]["errors"] == {}
    # dt analyze of a result that follows the ground truth exactly (a NaN row where it is NaN is not read by the
    # OPE rule: frame 2 is invalid): frames 0, 1, 3, 4 pass 20 of the 21 thresholds, frame 2 none
    write_result(tmp_path / "res" / "exact" / "uav_bike1.txt", np.array([[20.0, 15, 16, 16]] * 5))
    res = cli("analyze", tmp_path / "res" / "exact", "--dataset", "uav", "--root", root, "-o", tmp_path / "an")
    assert res.exit_code == 0, res.output
    scores = json.loads((tmp_path / "an" / "report.json").read_text())["trackers"][0]["scores"]
    assert scores["auc"] == pytest.approx(4 * 20 / 21 / 5)
    assert scores["precision"] == 1.0   # the invalid frame's -1 counts as a hit under 'uav'


@pytest.mark.parametrize("row", ["-inf,15,inf,16", "20,15,1e400,16"])
def test_infinite_gt_row_refused_up_front_on_otb(tmp_path, row):
    """An infinite ground-truth value (written `inf`, or a number past float range) is no benchmark's absent-target
    mark: dt eval tracked every sequence, then failed amid numpy 'invalid value' warnings (-inf + inf) or scored the
    frame as a plain miss (1e400); both commands now refuse it before any work."""
    root = _otb(tmp_path / "otb", "Basketball", [BOX, BOX, row, BOX])
    assert _eval_refused(tmp_path, root, "Basketball") == (
        "error: Basketball: ground-truth row 2 (frame 2, from 0) has an infinite value, which no benchmark's toolkit "
        "can score; restore that row from the dataset's archive (or write NaN,NaN,NaN,NaN there for an absent target "
        "where the dataset allows it), or leave it out with --sequences")
    assert _analyze_refused(tmp_path, root, "Basketball", 4).startswith(
        "error: Basketball: ground-truth row 2 (frame 2, from 0) has an infinite")


def test_infinite_gt_row_refused_on_uav123_too(tmp_path):
    """UAV123 keeps NaN rows (an absent target), not infinite ones."""
    root = _uav(tmp_path / "uav", "bike1", [BOX, "inf,15,16,16", BOX])
    res = cli("eval", "--dataset", "uav", "--root", root, "--tracker", "kcf", "--output", tmp_path / "out")
    assert one_line_error(res).startswith("error: uav_bike1: ground-truth row 1 (frame 1, from 0) has an infinite")
