"""Some TNL2K folders hold more images than their groundtruth.txt has boxes. droptrack drops those past the last box
without a word; OSTrack tracks them and its analysis truncates the longer result to the ground truth (metrics.md
3.2), so the scores are the same, but a user comparing frame counts with OSTrack's result files could not tell why.
Now each such sequence gets one warning line naming it and both counts; the frames and scores stay as they were."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.errors import ExtraImagesWarning
from droptrack.eval.results import write_result
from helpers import cli

GT = [10.0, 10.0, 20.0, 20.0]


def _seq(root, name, images, boxes, names=None):
    """root/<name>/imgs/ with `images` frames (numbered 00001.jpg ..., or `names`) and `boxes` rows of GT."""
    cv2 = pytest.importorskip("cv2")
    (root / name / "imgs").mkdir(parents=True)
    rng = np.random.default_rng(len(name))
    for i in range(images):
        img = rng.integers(0, 80, (48, 64, 3), dtype=np.uint8)
        img[10:30, 10:30] = 230
        cv2.imwrite(str(root / name / "imgs" / (names[i] if names else f"{i + 1:05d}.jpg")), img)
    (root / name / "groundtruth.txt").write_text("10,10,20,20\n" * boxes)


def _root(tmp_path):
    root = tmp_path / "tnl2k"
    _seq(root, "Numbered", 6, 4)                                        # numbered: found by file checks
    _seq(root, "Listed", 5, 3, names=[f"{c}.png" for c in "abcde"])     # other names: the folder's listing
    _seq(root, "Exact", 4, 4)
    return root


def test_extra_images_warned_once_per_sequence_with_both_counts(tmp_path):
    root = _root(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seqs = {s.name: s for s in get_sequences("tnl2k", root)}
    said = [str(w.message) for w in caught if issubclass(w.category, ExtraImagesWarning)]
    assert said == [
        f"TNL2K Listed: 5 images in {root / 'Listed' / 'imgs'} for 3 ground-truth boxes; the 2 past the last box are "
        "not tracked (OSTrack tracks them, and its analysis truncates the results to the boxes: the scores are the "
        "same)",
        f"TNL2K Numbered: 6 images in {root / 'Numbered' / 'imgs'} for 4 ground-truth boxes; the 2 past the last box "
        "are not tracked (OSTrack tracks them, and its analysis truncates the results to the boxes: the scores are "
        "the same)"]
    assert {n: len(s.frames) for n, s in seqs.items()} == {"Exact": 4, "Listed": 3, "Numbered": 4}
    assert [p.name for p in seqs["Listed"].frames] == ["a.png", "b.png", "c.png"]


def test_dt_eval_prints_it_and_scores_as_the_official_analysis(tmp_path):
    root = _root(tmp_path)
    res = cli("eval", "--dataset", "tnl2k", "--root", root, "--sequences", "Numbered", "--tracker", "kcf",
              "--output", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert [ln for ln in res.output.splitlines() if ln.startswith("warning: TNL2K")] == [
        f"warning: TNL2K Numbered: 6 images in {root / 'Numbered' / 'imgs'} for 4 ground-truth boxes; the 2 past the "
        "last box are not tracked (OSTrack tracks them, and its analysis truncates the results to the boxes: the "
        "scores are the same)"]
    assert len((tmp_path / "out" / "kcf" / "Numbered.txt").read_text().splitlines()) == 4
    # OSTrack's result of every image (6 rows): frame 1 off by 10 px (IoU 200 / 600 = 1/3), rows 4-5 past the
    # boxes. Thresholds passed of 21 (IoU > t): 20, 7 (0 .. 0.30), 20, 20: AUC 67/84, the same as its first 4 rows
    rows = np.array([GT, [20.0, 10.0, 20.0, 20.0], GT, GT, [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    write_result(tmp_path / "res" / "all" / "Numbered.txt", rows)
    write_result(tmp_path / "res" / "first" / "Numbered.txt", rows[:4])
    res = cli("analyze", tmp_path / "res" / "all", tmp_path / "res" / "first", "--dataset", "tnl2k", "--root", root,
              "--sequences", "Numbered", "-o", tmp_path / "an")
    assert res.exit_code == 0, res.output
    trackers = json.loads((tmp_path / "an" / "report.json").read_text())["trackers"]
    assert [t["scores"]["auc"] for t in trackers] == [pytest.approx(67 / 84)] * 2
