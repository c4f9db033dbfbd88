"""Hand-computed cases for every rule of metrics.md: OSTrack OPE, GOT-10k toolkit, TrackingNet devkit."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import DatasetError, InputError
from droptrack.eval import metrics as M
from droptrack.eval.metrics_trackingnet import TN_PRECISION_THRESHOLDS

G = [10.0, 10.0, 20.0, 20.0]


def rows(*r) -> np.ndarray:
    """(N, 4) float64 array of the given rows."""
    return np.array(r, dtype=np.float64)


# ----------------------------------------------------------------------------------------------- OSTrack OPE
def test_thresholds_match_torch_arange_bit_for_bit():
    t = M.SUCCESS_THRESHOLDS
    assert len(t) == 21 and t[0] == 0.0 and t[-1] == 1.0
    assert t[13] == 0.6500000000000001 and t[15] == 0.7500000000000001
    others = [i for i in range(21) if i not in (13, 15)]
    assert np.array_equal(t[others], np.arange(21)[others] * 0.05)
    assert M.PRECISION_THRESHOLDS[20] == 20 and M.NORM_PRECISION_THRESHOLDS[20] == 0.2


def test_perfect_tracker_scores_20_of_21():
    gt = rows(*[[10 + i, 20, 30, 40] for i in range(7)])
    r = M.ope_metrics([gt, gt[:3]], [gt, gt[:3]], "otb", names=["a", "b"])
    assert r.protocol == "ostrack-ope"
    assert r.auc == pytest.approx(20 / 21, abs=1e-15)
    assert (r.precision, r.norm_precision, r.op50, r.op75) == (1.0, 1.0, 1.0, 1.0)
    assert r.success_curve[-1] == 0.0 and r.seq_success.shape == (2, 21)
    assert set(r.per_sequence()) == {"a", "b"}


def test_success_threshold_is_strict_and_auc_is_mean_over_sequences():
    gt = rows([0, 0, 10, 10], [0, 0, 10, 10])
    pred = rows([0, 0, 10, 10], [0, 0, 10, 5])          # frame 1: IoU exactly 0.5
    r = M.ope_metrics([pred], [gt], "otb")
    expected = np.array([1.0] * 10 + [0.5] * 10 + [0.0])
    assert np.array_equal(r.success_curve, expected)
    assert r.op50 == 0.5 and r.auc == pytest.approx(15 / 21)
    r2 = M.ope_metrics([pred, gt], [gt, gt], "otb")      # unweighted mean of the two sequences
    assert r2.auc == pytest.approx((15 / 21 + 20 / 21) / 2)


def test_precision_inclusive_at_20px_and_normalised():
    gt = rows([100, 100, 10, 10], [100, 100, 10, 10])
    r = M.ope_metrics([rows(G, [120, 100, 10, 10])], [gt], "otb")   # centre error exactly 20 px
    assert r.precision == 1.0 and r.precision_curve[19] == 0.5
    gt5 = rows([0, 0, 5, 5], [0, 0, 5, 5])
    assert M.ope_metrics([rows(G, [1, 0, 5, 5])], [gt5], "otb").norm_precision == 1.0    # 0.2 (fp: 0.19999...)
    assert M.ope_metrics([rows(G, [1.5, 0, 5, 5])], [gt5], "otb").norm_precision == 0.5  # 0.3


def test_uav_nan_gt_frame_is_a_precision_hit():
    gt = rows(G, G, [np.nan] * 4)
    pred = rows(G, G, G)
    s = M.ope_sequence(pred, gt, "uav")
    assert list(s.iou) == [1.0, 1.0, -1.0] and s.center_error[2] == -1.0 and s.norm_center_error[2] == -1.0
    r = M.ope_aggregate([s], "uav")
    assert r.precision_curve[0] == 1.0 and r.norm_precision == 1.0
    assert r.success_curve[0] == pytest.approx(2 / 3)            # denominator = all frames
    with pytest.raises(DatasetError, match="NaN"):
        M.ope_sequence(pred, gt, "otb")


def test_zero_size_gt_is_invalid_and_x_le_0_depends_on_rule():
    gt = rows(G, [10, 10, 0, 20])
    s = M.ope_sequence(rows(G, G), gt, "otb")
    assert s.iou[1] == -1 and s.center_error[1] == np.inf and s.norm_center_error[1] == -1
    gt0 = rows([0, 5, 20, 20], [0, 5, 20, 20])
    assert M.ope_sequence(gt0, gt0, "otb").valid.all()                           # OSTrack: w, h > 0
    assert not M.ope_sequence(gt0, gt0, "otb", validity="pytracking").valid.any()  # pytracking master
    assert M.ope_metrics([gt0], [gt0], "otb", validity="pytracking").protocol == "pytracking-ope"


def test_lasot_invisible_frames_fail_but_extension_subset_counts_normalised():
    gt, pred, vis = rows(G, G, G), rows(G, G, G), np.array([1, 1, 0])
    a = M.ope_metrics([pred], [gt], "lasot", visible=[vis])
    assert a.precision == pytest.approx(2 / 3) and a.norm_precision == pytest.approx(2 / 3)
    assert a.success_curve[0] == pytest.approx(2 / 3)
    b = M.ope_metrics([pred], [gt], "lasot_extension_subset", visible=[vis])
    assert b.precision == pytest.approx(2 / 3) and b.norm_precision == 1.0
    # invalid for another reason (zero width) while visible keeps -1 even under 'lasot'
    s = M.ope_sequence(rows(G, G), rows(G, [10, 10, 0, 5]), "lasot", visible=[1, 1])
    assert s.norm_center_error[1] == -1.0


def test_zero_size_prediction_replacement_order():
    gt = rows(G, G, G, G)
    b1 = [12, 10, 20, 20]
    s = M.ope_sequence(rows([0, 0, 0, 0], [5, 5, 0, 7], G, [1, 1, 3, 0]), gt, "otb")
    assert s.iou[0] == 1.0 and s.iou[1] == 0.0 and s.iou[2] == 1.0   # frame 1 copies the raw zero box of frame 0
    assert s.iou[3] == 1.0                                           # frame 3 copies frame 2
    chain = M.ope_sequence(rows(G, b1, [1, 2, 0, 3], [4, 5, 6, 0]), gt, "otb")
    assert chain.iou[2] == chain.iou[3] == chain.iou[1] == pytest.approx(360 / 440)
    # uav: a zero box on a NaN-GT frame is kept and carried into the next valid frame
    gtn = rows(G, G, [np.nan] * 4, G)
    u = M.ope_sequence(rows(G, G, [0, 0, 0, 0], [3, 3, 0, 0]), gtn, "uav")
    assert u.iou[3] == 0.0


def test_length_mismatch_rules():
    gt = rows(G, G, G, G)
    s = M.ope_sequence(rows(G, G), gt, "otb")                   # zero padding, not replaced
    assert list(s.iou) == [1.0, 1.0, 0.0, 0.0] and s.center_error[3] > 20
    assert len(M.ope_sequence(rows(G, G, G, G, G, G), gt, "uav").iou) == 4
    assert len(M.ope_sequence(rows(G, G, G, G, G), gt, "lasot").iou) == 4
    with pytest.raises(InputError, match="lasot"):
        M.ope_sequence(rows(G, G), gt, "lasot")


def test_bad_predictions_and_tags_are_rejected():
    gt = rows(G, G)
    with pytest.raises(InputError, match="NaN"):
        M.ope_sequence(rows(G, [1, 2, np.nan, 4]), gt, "otb")
    with pytest.raises(InputError, match=r"frame 1 \(line 2 of a result file\) has NaN or a negative"):
        M.ope_sequence(rows(G, [1, 2, -3, 4]), gt, "otb")
    with pytest.raises(InputError, match="unknown dataset tag"):
        M.ope_sequence(gt, gt, "LaSOT")
    with pytest.raises(InputError, match="shape"):
        M.ope_sequence(np.zeros((2, 3)), gt, "otb")


def test_frame0_forced_to_gt_and_avg_overlap_over_valid_frames():
    gt = rows(G, G, [10, 10, 0, 0])
    s = M.ope_sequence(rows([500, 500, 5, 5], [15, 10, 20, 20], G), gt, "otb")
    assert s.iou[0] == 1.0
    r = M.ope_aggregate([s], "otb")
    assert r.seq_avg_overlap[0] == pytest.approx((1 + 300 / 500) / 2)


# -------------------------------------------------------------------------------------------------- GOT-10k
def test_got10k_clipping_shifts_left_top_boxes():
    p, g = rows([-20, 5, 40, 20]), rows([0, 5, 40, 20])
    assert M.rect_iou_got10k(p, g, (640, 480))[0] == pytest.approx(1.0)
    assert M.rect_iou_got10k(p, g)[0] == pytest.approx(1 / 3)
    right = M.rect_iou_got10k(rows([620, 5, 40, 20]), rows([600, 5, 40, 20]), (640, 480))[0]
    assert right == pytest.approx(20 / 40)                     # overflow on the right is cropped
    assert M.rect_iou_got10k(rows([1, 1, -5, 3]), rows([1, 1, 4, 3]), (640, 480))[0] == 0.0


def test_got10k_drops_frame0_and_cover0_and_pools_frames():
    gt = rows(G, G, G)
    a = M.got10k_sequence(rows([400, 400, 5, 5], G, G), gt, [1, 1, 1], (640, 480), "a")
    assert len(a.ious) == 2 and a.ious.min() > 1 - 1e-12          # frame 0 not used
    b = M.got10k_sequence(rows(G, [400, 400, 5, 5], G), gt, [1, 0, 1], (640, 480), "b")
    assert len(b.ious) == 1                                      # cover 0 excluded
    r = M.got10k_metrics([rows(G, G, G), rows(G, [300, 300, 5, 5])], [gt, gt[:2]], [[1, 1, 1], [1, 1]],
                         [(640, 480)] * 2, names=["a", "b"])
    assert r.protocol == "got10k-toolkit"
    assert r.ao == pytest.approx(2 / 3) and r.sr50 == pytest.approx(2 / 3)   # pooled, not (1 + 0) / 2
    assert r.seq_ao == pytest.approx([1.0, 0.0]) and list(r.seq_frames) == [2, 1]
    assert len(r.success_curve) == 101 and r.success_curve[-1] == 0.0


def test_got10k_repetitions_empty_sequences_and_shapes():
    gt = rows(G, G, G)
    r = M.got10k_metrics([[rows(G, G, G), rows(G, [300, 300, 5, 5], [300, 300, 5, 5])], rows(G, G, G)],
                         [gt, gt], [[1, 1, 1], [1, 0, 0]], [(640, 480)] * 2)
    assert r.seq_frames[0] == 4 and r.seq_ao[0] == pytest.approx(0.5)
    assert np.isnan(r.seq_ao[1]) and r.ao == pytest.approx(0.5)      # empty sequence: NaN, pooled unaffected
    half = M.got10k_metrics([rows([0, 0, 10, 10], [0, 0, 10, 5])], [rows([0, 0, 10, 10], [0, 0, 10, 10])],
                            [[1, 1]], [(640, 480)])
    assert half.ao == pytest.approx(0.5) and half.sr50 == 0.0           # IoU exactly 0.5 is not > 0.5
    assert half.success_curve[49] == 1.0 and half.success_curve[50] == 0.0
    with pytest.raises(InputError, match="identical shapes"):
        M.got10k_sequence(rows(G, G), gt)


# ---------------------------------------------------------------------------------------------- TrackingNet
def test_trackingnet_rounds_half_to_even_and_uses_ge():
    gt = rows([219.5, 10, 20, 20], [219.5, 10, 20, 20])
    r = M.trackingnet_metrics([rows(G, [220.5, 10, 20, 20])], [gt])
    assert r.protocol == "trackingnet-devkit"
    assert r.success == pytest.approx(1.0) and r.precision == pytest.approx(1.0)   # perfect = 1.0 under >=
    assert r.norm_precision == pytest.approx(1.0) and r.success_curve[-1] == 1.0
    bad = M.trackingnet_metrics([rows(G, [500, 500, 20, 20])], [rows(G, G)])
    assert bad.success_curve[0] == 1.0 and bad.success_curve[1] == 0.5          # IoU 0 >= 0
    assert bad.success == pytest.approx((0.75 + 19 * 0.5) * 0.05)
    assert bad.precision_at_20px == 0.5 and TN_PRECISION_THRESHOLDS[8] == 20.0


def test_trackingnet_missing_rows_fail_and_missing_file_scores_zero():
    gt = rows(G, G, G, G)
    r = M.trackingnet_metrics([rows(G, G)], [gt])
    assert r.success_curve[0] == 0.5 and r.precision_curve[-1] == 0.5
    z = M.trackingnet_metrics([None], [gt])
    assert z.coverage == pytest.approx(1 / 4)                   # only frame 0 (set to GT) is non-zero
    assert z.precision_curve[8] == 0.25 and z.precision_curve[-1] == 1.0    # zero boxes 28.3 px away

