"""One's own footage marks an absent target with NaN,NaN,NaN,NaN (or 0,0,0,0) rows in its box file, as the README
says for the folder, video and synth datasets; dt eval and dt analyze refused every such sequence ('ground-truth row
2 has NaN (only tag 'uav' allows it)'; under the GOT-10k toolkit 'NaN on a frame with cover > 0'), so a clip with the
target leaving the view could not be scored at all. A NaN row is now an invalid frame, as a 0,0,0,0 row is (IoU -1,
centre error +inf, normalised -1); under the GOT-10k toolkit, one's own footage without cover.label has its absent
rows at cover 0 (not scored). Benchmarks keep pytracking's rule: NaN only under 'uav'."""

import json
from pathlib import Path

import numpy as np
import pytest

from droptrack.errors import DatasetError
from droptrack.eval import metrics as M
from helpers import cli, img, text

G = [2.0, 2.0, 8.0, 6.0]


def test_nan_row_of_own_footage_is_an_invalid_frame() -> None:
    gt = np.array([G, G, [np.nan] * 4, G])
    pred = np.array([G, G, [3, 2, 8, 6], [4, 2, 8, 6]], dtype=np.float64)
    for tag in ("folder", "video", "synth"):
        s = M.ope_sequence(pred, gt, tag)
        assert s.iou[2] == -1.0 and s.center_error[2] == np.inf and s.norm_center_error[2] == -1.0
        assert list(s.valid) == [True, True, False, True]
        zero = M.ope_sequence(pred, np.array([G, G, [0, 0, 0, 0], G]), tag)   # the README's other spelling
        for a, b in ((s.iou, zero.iou), (s.center_error, zero.center_error),
                     (s.norm_center_error, zero.norm_center_error)):
            assert np.array_equal(a, b)
    with pytest.raises(DatasetError, match="NaN"):   # a benchmark's NaN row stays refused, as in pytracking
        M.ope_sequence(pred, gt, "otb")


def _clip(root: Path, rows: str) -> None:
    for i in range(1, 6):
        img(root / "clipA" / f"{i:05d}.jpg", size=(40, 30))
    text(root / "clipA" / "groundtruth.txt", rows)


def test_dt_analyze_folder_with_absent_rows(tmp_path: Path) -> None:
    _clip(tmp_path / "own", "2,2,8,6\n2,2,8,6\nNaN,NaN,NaN,NaN\n0,0,0,0\n2,2,8,6\n")
    text(tmp_path / "res" / "clipA.txt", "2\t2\t8\t6\n" * 5)
    out = cli("analyze", tmp_path / "res", "--dataset", "folder", "--root", tmp_path / "own", "-o", tmp_path / "an")
    assert out.exit_code == 0, out.output
    scores = json.loads((tmp_path / "an" / "report.json").read_text())["trackers"][0]["scores"]
    # frames 0, 1, 4 IoU 1 (20 of 21 thresholds), frames 2 and 3 invalid: a miss everywhere except norm. precision
    assert scores["auc"] == pytest.approx(3 * 20 / (5 * 21), abs=1e-12)
    assert scores["precision"] == pytest.approx(3 / 5, abs=1e-12)
    assert scores["norm_precision"] == 1.0


def test_got10k_toolkit_leaves_absent_rows_of_own_footage_out(tmp_path: Path) -> None:
    _clip(tmp_path / "own", "2,2,8,6\n2,2,8,6\nNaN,NaN,NaN,NaN\n0,0,0,0\n2,2,8,6\n")
    # frame 1: IoU 1; frame 4: shifted by 4 of 8 px, IoU 4*6 / (2*48 - 24) = 1/3; frames 2, 3 absent: not scored
    text(tmp_path / "res" / "clipA.txt", "2,2,8,6\n2,2,8,6\n0,0,0,0\n9,9,3,3\n6,2,8,6\n")
    out = cli("analyze", tmp_path / "res", "--dataset", "synth", "--root", tmp_path / "own", "--protocol",
              "got10k-toolkit", "-o", tmp_path / "an")
    assert out.exit_code == 0, out.output
    scores = json.loads((tmp_path / "an" / "report.json").read_text())["trackers"][0]["scores"]
    assert scores["ao"] == pytest.approx((1 + 1 / 3) / 2, abs=1e-12)
    assert scores["sr50"] == 0.5
