"""Benchmark annotation files as they reach users (re-saved on Windows: a UTF-8 BOM and CRLF line ends), and
metrics checked on the official OSTrack tracker's own output sequence (tests/data/official_ostrack256ce/seq)."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.data import get_sequences
from helpers import img, text


pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py

BOM = "\ufeff"


def _windows(path, body: str) -> None:
    """A text file as Notepad saves it: UTF-8 with a BOM, CRLF line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((BOM + body.replace("\n", "\r\n")).encode("utf-8"))


def test_got10k_and_lasot_files_saved_with_a_bom_and_crlf_read_as_the_plain_ones(tmp_path):
    """pytracking reads annotation files through pandas, which skips a UTF-8 BOM; here the BOM was glued to the
    first number ('\\ufeff1' is not a number), so the sequence's groundtruth.txt, its label files and list.txt
    (first name '\\ufeffGOT-10k_Val_000001', no such folder) were refused."""
    val = tmp_path / "val"
    name = "GOT-10k_Val_000001"
    for i in range(1, 4):
        img(val / name / f"{i:08d}.jpg")
    _windows(val / "list.txt", f"{name}\n")
    _windows(val / name / "groundtruth.txt", "1,2,5,6\n2,3,5,6\n3,4,5,6\n")
    _windows(val / name / "absence.label", "0\n1\n0\n")
    _windows(val / name / "cover.label", "8\n0\n3\n")
    _windows(val / name / "meta_info.ini", "resolution: (16, 12)\nobject_class: cat\n")
    (s,) = get_sequences("got10k", tmp_path, split="val")
    assert s.name == name and s.boxes.tolist() == [[1, 2, 5, 6], [2, 3, 5, 6], [3, 4, 5, 6]]
    assert s.cover.tolist() == [8, 0, 3] and s.visible.tolist() == [True, False, True]
    assert s.resolution == (16, 12) and s.object_class == "cat"
    seq = tmp_path / "lasot" / "airplane" / "airplane-1"
    _windows(seq / "groundtruth.txt", "1,2,3,4\n5,6,7,8\n")
    _windows(seq / "full_occlusion.txt", "0,1")
    _windows(seq / "out_of_view.txt", "1,0")
    (la,) = get_sequences("lasot", tmp_path / "lasot", names=["airplane-1"])
    assert la.boxes[0].tolist() == [1, 2, 3, 4] and la.visible.tolist() == [False, False]
    uav = tmp_path / "uav"
    _windows(uav / "anno" / "UAV123" / "bike1.txt", "NaN,NaN,NaN,NaN\n1,2,3,4\n")
    (uav / "data_seq" / "UAV123" / "bike1").mkdir(parents=True)
    (u,) = get_sequences("uav", uav)
    assert np.isnan(u.boxes[0]).all() and u.boxes[1].tolist() == [1, 2, 3, 4]


def _official_run():
    """The official tracker's boxes written as its runner writes them (np.array(...).astype(int), tab, %d) and the
    sequence's ground truth."""
    from official_weights import REF

    boxes = np.loadtxt(REF / "track_ostrack256ce.txt", delimiter=",")
    gt = np.loadtxt(REF / "seq" / "groundtruth.txt", delimiter=",")
    return boxes, gt


def _pixel_masks(boxes: np.ndarray, canvas: tuple[int, int]) -> np.ndarray:
    """(N, H, W) bool: the pixels each integer box covers (x .. x+w-1), cropped to the canvas."""
    h, w = canvas
    out = np.zeros((len(boxes), h, w), bool)
    for m, (x, y, bw, bh) in zip(out, boxes.astype(int)):
        m[max(y, 0):max(y + bh, 0), max(x, 0):max(x + bw, 0)] = True
    return out


def test_official_tracker_output_is_written_byte_for_byte_as_the_official_runner_writes_it(tmp_path):
    """The official runner casts the tracker state with astype(int) and saves it tab-separated with %d; its
    `_time.txt` with %f; transform_got10k re-saves the boxes comma-separated with %d as <seq>/<seq>_001.txt."""
    from droptrack.eval import results as R

    boxes, _ = _official_run()
    ref = tmp_path / "ref.txt"
    np.savetxt(ref, np.array(boxes).astype(int), delimiter="\t", fmt="%d")
    ours = R.write_result(tmp_path / "seq.txt", boxes)
    assert ours.read_bytes() == ref.read_bytes()
    times = np.linspace(0.5, 0.0123456789, len(boxes))
    np.savetxt(tmp_path / "ref_time.txt", times, delimiter="\t", fmt="%f")
    assert R.write_times(tmp_path / "seq_time.txt", times).read_bytes() == (tmp_path / "ref_time.txt").read_bytes()
    np.savetxt(tmp_path / "ref_001.txt", np.loadtxt(ref, dtype=int, delimiter="\t"), fmt="%d", delimiter=",")
    R.write_got10k_submission(tmp_path / "sub", {"seq": R.read_result(ours)}, {"seq": R.read_times(ours.with_name(
        "seq_time.txt"))})
    assert (tmp_path / "sub" / "seq" / "seq_001.txt").read_bytes() == (tmp_path / "ref_001.txt").read_bytes()
    assert (tmp_path / "sub" / "seq" / "seq_time.txt").read_bytes() == (tmp_path / "ref_time.txt").read_bytes()


def test_official_tracker_output_scored_against_pixel_counts(tmp_path):
    """OSTrack's OPE and the GOT-10k toolkit on the official tracker's 40 frames, against IoUs and centres counted
    pixel by pixel on the written integer boxes (a box covers pixels x .. x+w-1; its centre is their mean)."""
    from droptrack.eval import metrics as M
    from droptrack.eval import results as R

    boxes, gt = _official_run()
    pred = R.read_result(R.write_result(tmp_path / "seq.txt", boxes), len(gt))
    canvas = (400, 520)                       # every box lies inside the 480x360 frame, so the canvas crops nothing
    pm, gm = _pixel_masks(pred, canvas), _pixel_masks(gt, canvas)
    inter = (pm & gm).sum((1, 2))
    iou = inter / (pm | gm).sum((1, 2))
    iou[0] = 1.0                              # OPE: frame 0 is scored as the GT itself
    ys, xs = np.mgrid[:canvas[0], :canvas[1]]
    centre = lambda m: np.array([[xs[k].mean(), ys[k].mean()] for k in m])   # noqa: E731
    pc, gc = centre(pm), centre(gm)
    pc[0] = gc[0]
    err = np.linalg.norm(pc - gc, axis=1)
    nerr = np.linalg.norm((pc - gc) / gt[:, 2:], axis=1)
    res = M.ope_metrics([pred], [gt], tag="otb")
    thresholds = np.arange(21) / 20
    assert res.auc == pytest.approx(np.mean([(iou > t).mean() for t in thresholds]), abs=1e-12)
    assert res.op50 == pytest.approx((iou > 0.5).mean(), abs=1e-12)
    assert res.precision == pytest.approx((err <= 20).mean(), abs=1e-12)
    assert res.norm_precision == pytest.approx((nerr <= 0.2).mean(), abs=1e-12)
    assert res.seq_avg_overlap[0] == pytest.approx(iou.mean(), abs=1e-12)
    got = M.got10k_metrics([pred], [gt], covers=[np.ones(len(gt))], image_sizes=[(480, 360)])
    assert got.ao == pytest.approx(iou[1:].mean(), abs=1e-12)    # frame 0 is not scored
    assert got.sr50 == pytest.approx((iou[1:] > 0.5).mean(), abs=1e-12)
    assert got.sr75 == pytest.approx((iou[1:] > 0.75).mean(), abs=1e-12)


def test_result_files_named_as_the_got10k_toolkit_and_pysot_name_these_sequences(tmp_path):
    """pytracking/OSTrack name the two-target OTB sequences Jogging_1 and Human4_2, UAV123 uav_bird1_2 and NfS
    nfs_Bee; the GOT-10k toolkit's OTB experiment writes Jogging.1.txt and Human4.txt (it drops Human4's empty
    first file and numbers only repeated folders), pysot-toolkit Jogging-1.txt, Human4.txt, bird1_2.txt, Bee.txt.
    Such folders were refused ('no result file for Jogging_1'); they are read under those names, timings too."""
    from droptrack.eval import results as R
    from droptrack.eval.report import analyze
    from helpers import FakeSeq

    g = np.array([[10.0, 10.0, 20.0, 20.0]] * 3)
    half = np.array([g[0], [20, 10, 20, 20], [20, 10, 20, 20]])    # IoU 1, 1/3, 1/3

    def score(dataset, names, files):
        seqs = [FakeSeq(n, dataset, g) for n in names]
        d = tmp_path / "_".join(files)
        for f in files:
            R.write_result(d / f"{f}.txt", half)
            (d / "times").mkdir(parents=True, exist_ok=True)
            (d / "times" / f"{f}_time.txt").write_text("0.5\n0.5\n0.5\n")
        t = analyze([d], seqs).trackers[0]
        assert t.errors == {}, t.errors
        return t

    # 21 thresholds: frame 0 passes 20 (IoU 1), frames 1-2 pass 7 (0 ... 0.30 < 1/3)
    auc = (20 + 7 + 7) / 21 / 3
    got = score("otb", ["Jogging_1", "Jogging_2", "Human4_2", "Basketball"],
                ["Jogging.1", "Jogging.2", "Human4", "Basketball"])
    assert got.result.auc == pytest.approx(auc) and got.fps == pytest.approx(2.0)
    pysot = score("otb", ["Skating2_1", "Human4_2"], ["Skating2-1", "Human4"])
    assert pysot.result.names == ["Skating2_1", "Human4_2"] and pysot.result.auc == pytest.approx(auc)
    assert score("uav", ["uav_bird1_2"], ["bird1_2"]).result.auc == pytest.approx(auc)
    assert score("nfs", ["nfs_Bee"], ["Bee"]).result.auc == pytest.approx(auc)
    own = score("otb", ["Jogging_1"], ["Jogging_1", "Jogging.1"])     # pytracking's own name comes first
    assert own.notes == {}


def test_got10k_cover_label_without_absence_label_still_hides_covered_frames(tmp_path):
    """Visibility is 'not absent and cover > 0' (pytracking's GOT-10k loader): a sequence with cover.label but no
    absence.label had no flags at all, so training sampled its fully covered frames (cover 0) as visible."""
    seq = tmp_path / "train" / "GOT-10k_Train_000001"
    for i in range(1, 4):
        img(seq / f"{i:08d}.jpg")
    text(seq / "groundtruth.txt", "1,2,5,6\n2,3,5,6\n3,4,5,6\n")
    text(seq / "cover.label", "8\n0\n3\n")
    text(tmp_path / "train" / "list.txt", "GOT-10k_Train_000001\n")
    (s,) = get_sequences("got10k", tmp_path, split="train")
    assert s.visible.tolist() == [True, False, True] and s.cover.tolist() == [8, 0, 3]
    text(seq / "absence.label", "0\n0\n1\n")
    (s,) = get_sequences("got10k", tmp_path, split="train")
    assert s.visible.tolist() == [True, False, False]
