"""`dt analyze` / `dt eval` follow the chosen toolkit where toolkits differ: the FPS definition, result files
shorter than the ground truth, NaN boxes on frames the GOT-10k toolkit does not score, the toolkit's time-file
layout. Every expected value is worked out by hand in the comments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from droptrack.errors import InputError
from droptrack.eval import results as R
from droptrack.eval.report import analyze
from droptrack.eval.report_view import error_lines, report_table
from droptrack.eval.run_result import EvalResult, summary_lines
from helpers import FakeSeq

G = [100.0, 100.0, 20.0, 20.0]
# frame times in seconds; NaN, 0 and negative entries are dropped by both definitions
TIMES = {"a": "0.5\n0.25\nnan\n0\n", "b": "0.1\n0.1\n0.05\n-1\n"}
# kept: a 0.5, 0.25; b 0.1, 0.1, 0.05
GOT10K_FPS = (2 + 4 + 10 + 10 + 20) / 5        # mean of 1/t over the 5 kept frames = 9.2
FRAMES_FPS = 5 / (0.5 + 0.25 + 0.1 + 0.1 + 0.05)   # 5 frames / 1.0 s = 5.0


def _tracker(d: Path, times_dir: str = "") -> tuple[list[FakeSeq], Path]:
    """Two perfect 4-frame results with the TIMES files (in `d/times_dir`)."""
    seqs = [FakeSeq(n, "otb", np.array([G] * 4), cover=np.ones(4, int)) for n in TIMES]
    for s in seqs:
        R.write_result(d / f"{s.name}.txt", s.boxes)
        (d / times_dir).mkdir(parents=True, exist_ok=True)
        (d / times_dir / f"{s.name}_time.txt").write_text(TIMES[s.name])
    return seqs, d


def test_fps_is_defined_as_the_chosen_toolkit_defines_it(tmp_path):
    """The GOT-10k toolkit (and its server) report the mean over frames of 1/t; dt analyze reported frames / total
    seconds under every protocol, 5.0 here where the toolkit says 9.2. Now each protocol uses its toolkit's
    definition and the output names it."""
    seqs, d = _tracker(tmp_path / "trk")
    got = analyze([d], seqs, protocol="got10k-toolkit", output_dir=tmp_path / "g")
    ope = analyze([d], seqs, protocol="ostrack-ope")
    tn = analyze([d], seqs, protocol="trackingnet-devkit")
    assert got.trackers[0].fps == pytest.approx(GOT10K_FPS) and GOT10K_FPS == pytest.approx(9.2)
    assert ope.trackers[0].fps == pytest.approx(FRAMES_FPS) and FRAMES_FPS == pytest.approx(5.0)
    assert tn.trackers[0].fps == pytest.approx(FRAMES_FPS)
    assert got.to_dict()["fps_definition"] == "mean of 1/t over frames (GOT-10k toolkit)"
    assert ope.to_dict()["fps_definition"] == "frames / total tracker seconds (OSTrack/pytracking runner)"
    assert report_table(got).caption == "FPS: mean of 1/t over frames (GOT-10k toolkit)"
    assert (tmp_path / "g" / "report.json").read_text().count('"fps_definition": "mean of 1/t') == 1


def test_dt_eval_summary_uses_and_names_the_same_definition(tmp_path):
    """dt eval printed 'N FPS tracker time' as frames / total seconds even on GOT-10k, next to a table that a
    GOT-10k user compares with the leaderboard's speed; now it follows the dataset's toolkit and says which."""
    times = {"a": np.array([0.5, 0.25, np.nan, 0.0]), "b": np.array([0.1, 0.1, 0.05, -1.0])}
    got = EvalResult(tmp_path, "trk", "got10k", ["a", "b"], {}, times)
    otb = EvalResult(tmp_path, "trk", "otb", ["a", "b"], {}, times)
    assert got.fps == pytest.approx(GOT10K_FPS) and otb.fps == pytest.approx(FRAMES_FPS)
    assert "9.2 FPS tracker time (mean of 1/t over frames (GOT-10k toolkit))" in summary_lines(got)[1]
    assert "5.0 FPS tracker time (frames / total tracker seconds (OSTrack/pytracking runner))" in \
        summary_lines(otb)[1]


def test_fps_edge_cases_follow_each_definition(tmp_path):
    """GOT-10k keeps +inf (1/inf = 0 in its mean) and pools every repetition column of `<seq>_time.txt`;
    frames / seconds leaves inf out; nothing timed gives None under both."""
    from droptrack.eval.speed import tracker_fps

    assert tracker_fps([np.array([0.5, np.inf])], "got10k-toolkit") == pytest.approx((2 + 0) / 2)
    assert tracker_fps([np.array([0.5, np.inf])], "ostrack-ope") == pytest.approx(1 / 0.5)
    assert tracker_fps([np.array([0.0, np.nan]), None], "got10k-toolkit") is None
    assert tracker_fps([None], "ostrack-ope") is None
    seq = FakeSeq("a", "got10k", np.array([G] * 3), cover=np.ones(3, int))
    R.write_got10k_submission(tmp_path / "trk", {"a": [np.array([G] * 3)] * 2})
    (tmp_path / "trk" / "a" / "a_time.txt").write_text("0.5,0.25\n0.1,nan\n0.1,0.05\n")   # 2 repetitions
    # pooled 0.5, 0.25, 0.1, 0.1, 0.05: mean of 2, 4, 10, 10, 20
    assert analyze([tmp_path / "trk"], [seq]).trackers[0].fps == pytest.approx(GOT10K_FPS)


def test_time_files_in_the_got10k_toolkits_times_folder(tmp_path):
    """The GOT-10k toolkit's OTB/LaSOT experiments write `<seq>.txt` and `times/<seq>_time.txt`; dt analyze looked
    only next to the result file and reported no FPS for such folders."""
    seqs, d = _tracker(tmp_path / "trk", "times")
    assert analyze([d], seqs).trackers[0].fps == pytest.approx(FRAMES_FPS)


def _short(tmp_path: Path, tag: str) -> tuple[list[FakeSeq], Path]:
    """A 4-frame sequence whose result file stops after 2 (perfect) rows."""
    seq = FakeSeq("a", tag, np.array([G] * 4), visible=np.ones(4, bool), cover=np.ones(4, int))
    d = tmp_path / tag
    R.write_result(d / "a.txt", [G, G])
    return [seq], d


def test_short_result_scored_as_the_toolkit_does(tmp_path):
    """A result file shorter than the ground truth was left out of every tracker's averages under every protocol.
    OSTrack pads it with zero boxes (misses) except on LaSOT, the TrackingNet devkit reads NaN rows (misses), the
    GOT-10k toolkit asserts; dt analyze now does the same and names the rule."""
    seqs, d = _short(tmp_path, "otb")
    t = analyze([d], seqs).trackers[0]
    # IoU per frame 1, 1, 0, 0: frames 0-1 pass the 20 thresholds 0 ... 0.95, frames 2-3 none
    assert t.result.auc == pytest.approx(2 * 20 / 21 / 4) and t.result.op50 == 0.5
    # zero box centre (-0.5, -0.5) vs (109.5, 109.5): 155.6 px, normalized 5.5; both over every threshold
    assert t.result.precision == 0.5 and t.result.norm_precision == 0.5 and t.result.precision_curve[-1] == 0.5
    note = (f"{d / 'a.txt'}: 2 rows for 4 frames; the missing 2 frames are scored as misses (zero boxes: IoU 0, "
            "centre far off), as OSTrack's analysis does")
    assert t.errors == {} and t.notes == {"a": note} and error_lines(analyze([d], seqs)) == [f"otb: a scored: {note}"]
    py = analyze([d], seqs, protocol="pytracking-ope").trackers[0]
    assert py.result.auc == t.result.auc and "as pytracking's analysis does" in py.notes["a"]
    tn = analyze([d], seqs, protocol="trackingnet-devkit").trackers[0]
    # NaN rows 2-3 pass no threshold: every curve point is 2/4, trapezoid area 0.5; coverage 2 of 4 frames
    assert tn.result.success_curve.tolist() == [0.5] * 21 and tn.result.success == pytest.approx(0.5)
    assert tn.result.coverage == 0.5 and "NaN rows: they pass no threshold" in tn.notes["a"]
    assert "as the TrackingNet devkit does" in tn.notes["a"]
    with pytest.raises(InputError, match=r"2 rows for a sequence of 4 frames \(the GOT-10k toolkit requires one "
                                         r"row per frame\)"):
        analyze([d], seqs, protocol="got10k-toolkit")
    seqs, d = _short(tmp_path, "lasot")
    with pytest.raises(InputError, match=r"2 rows for a sequence of 4 frames \(OSTrack's analysis refuses a short "
                                         r"LaSOT result\)"):
        analyze([d], seqs)


def test_got10k_nan_only_where_the_toolkit_scores_it(tmp_path):
    """The GOT-10k toolkit never reads frame 0 or a cover-0 frame, so a NaN box there does not change AO; dt
    analyze refused the whole sequence."""
    seq = FakeSeq("a", "got10k", np.array([G] * 4), cover=np.array([1, 1, 0, 1]))
    d = tmp_path / "trk"
    d.mkdir()
    (d / "a.txt").write_text("nan,nan,nan,nan\n100,100,20,20\nnan,nan,nan,nan\n110,100,20,20\n")
    t = analyze([d], [seq]).trackers[0]
    # used frames 1 and 3: IoU 1, and 10x20 overlap / (400 + 400 - 200) = 1/3
    assert t.result.seq_frames.tolist() == [2] and t.result.ao == pytest.approx((1 + 1 / 3) / 2)
    assert t.result.sr50 == 0.5 and t.notes == {}
    (d / "a.txt").write_text("100,100,20,20\n100,100,20,20\n100,100,20,20\nnan,1,2,3\n")
    with pytest.raises(InputError, match=r"a\.txt:4: NaN in the box"):      # OSTrack refuses NaN anywhere
        analyze([d], [seq], protocol="ostrack-ope")


def test_a_negative_width_is_named_by_file_and_line_as_a_nan_box_is(tmp_path):
    """'a: the prediction for frame 3 (line 4 of a result file) has NaN or a negative width/height' named no file."""
    seq = FakeSeq("a", "lasot", np.array([G] * 4))
    d = tmp_path / "trk"
    d.mkdir()
    (d / "a.txt").write_text("100,100,20,20\n100,100,20,20\n100,100,20,20\n37,36,-5,24\n")
    with pytest.raises(InputError, match=rf"{tmp_path / 'trk' / 'a.txt'}:4: negative width/height in the box"):
        analyze([d], [seq])


def test_got10k_nan_box_on_a_scored_frame_is_scored_as_the_toolkit_does(tmp_path):
    """metrics.md 3.2 and 2.6: the GOT-10k toolkit's rect_iou of a NaN box is NaN, so the sequence's AO and the pooled
    AO are NaN, and the frame passes no SR threshold (NaN > t is false). dt analyze refused the sequence and left it
    out of every tracker's averages, giving an AO of the other sequences that the toolkit never reports. Now it
    scores the frame as the toolkit does, says so in a note, and writes the NaN AO as null in report.json."""
    import json

    seqs = [FakeSeq("a", "got10k", np.array([G] * 4), cover=np.array([1, 1, 0, 1])),
            FakeSeq("b", "got10k", np.array([G] * 3), cover=np.ones(3, int))]
    d = tmp_path / "trk"
    d.mkdir()
    (d / "a.txt").write_text("100,100,20,20\n100,100,20,20\nnan,nan,nan,nan\nnan,nan,nan,nan\n")
    (d / "b.txt").write_text("100,100,20,20\n100,100,20,20\n110,100,20,20\n")
    report = analyze([d], seqs, output_dir=tmp_path / "an")
    t = report.trackers[0]
    # used frames: a 1 (IoU 1) and 3 (NaN; frame 2 has cover 0, never read); b 1 (IoU 1) and 2 (10x20 overlap /
    # (400 + 400 - 200) = 1/3). Pooled IoUs 1, NaN, 1, 1/3: AO NaN; > 0.5: 2 of 4; > 0.75: 2 of 4; > 0: 3 of 4
    assert t.errors == {} and t.result.names == ["a", "b"]
    assert np.isnan(t.result.ao) and t.result.sr50 == 0.5 and t.result.sr75 == 0.5
    assert t.result.success_curve[0] == 0.75
    per = t.result.per_sequence()
    assert np.isnan(per["a"]["ao"]) and per["a"]["sr50"] == 0.5 and per["a"]["frames"] == 2
    assert per["b"]["ao"] == pytest.approx(2 / 3) and per["b"]["sr50"] == 0.5
    assert t.notes == {"a": f"{d / 'a.txt'}:4: NaN box on frame 3, which the GOT-10k toolkit scores: its IoU is NaN, "
                            "which makes this sequence's AO and the overall AO NaN (null in report.json) and fails "
                            "every SR threshold, as the toolkit does"}
    def no_constant(word):   # strict JSON: NaN / Infinity are no JSON values
        raise AssertionError(f"{word} in report.json")

    saved = json.loads((tmp_path / "an" / "report.json").read_text(), parse_constant=no_constant)["trackers"][0]
    assert saved["scores"] == {"ao": None, "sr50": 0.5, "sr75": 0.5}
    assert saved["per_sequence"]["a"]["ao"] is None
    assert [next(iter(c.cells)) for c in report_table(report).columns][1:4] == ["-", "50.00", "50.00"]
    # a per-attribute pool holding a is NaN too (it left a out as if it had no used frame); b alone: (1 + 1/3) / 2
    from droptrack.eval.attributes import subset_scores

    both, only_b = (subset_scores(t.result, names, ("ao", "sr50")) for names in (["a", "b"], ["b"]))
    assert np.isnan(both["ao"]) and both["sr50"] == 0.5 and only_b == {"ao": pytest.approx(2 / 3), "sr50": 0.5}


def test_missing_result_file_is_an_all_zero_submission_under_the_trackingnet_devkit(tmp_path):
    """metrics.md 3.2: the TrackingNet devkit scores a sequence without a result file as all-zero boxes (frame 0 set
    to the ground truth) and lowers the coverage; dt analyze left that sequence out of the averages instead, so a
    tracker that skipped sequences scored as if it had run only the ones it did."""
    seqs = [FakeSeq(n, "trackingnet", np.array([G] * 4)) for n in ("a", "b")]
    d = tmp_path / "trk"
    R.write_result(d / "a.txt", seqs[0].boxes)                             # perfect on a, no file for b
    t = analyze([d], seqs, protocol="trackingnet-devkit").trackers[0]
    # a: IoU 1 on every frame, every curve 1. b: frame 0 = GT (IoU 1, 0 px); frames 1-3 box (0, 0, 0, 0): IoU 0,
    # which passes t = 0 only (>=); centre 0 + 1/2 vs 100 + 21/2: 110 * sqrt(2) = 155.6 px, normalised 5.5: misses.
    # success curve: t = 0 (1 + 1) / 2 = 1, t > 0 (1 + 1/4) / 2 = 0.625; trapezoid over [0, 1] with step 0.05:
    # 0.05 * (1 / 2 + 19 * 0.625 + 0.625 / 2) = 0.634375
    assert t.errors == {} and t.result.names == ["a", "b"]
    assert t.result.success_curve[0] == 1.0 and t.result.success_curve[1:].tolist() == [0.625] * 20
    assert t.result.success == pytest.approx(0.634375)
    assert t.result.precision == pytest.approx(0.625) and t.result.precision_at_20px == 0.625
    assert t.result.norm_precision == pytest.approx(0.625)
    assert t.result.coverage == pytest.approx(5 / 8)                       # a: 4 frames; b: frame 0 only
    assert "all-zero submission" in t.notes["b"] and "as the TrackingNet devkit does" in t.notes["b"]
    ope = analyze([d], seqs, protocol="ostrack-ope").trackers[0]            # OSTrack: still left out, named
    assert ope.result.names == ["a"] and "no result file for b" in ope.errors["b"]
    (tmp_path / "empty").mkdir()                                          # a wrong folder is not all misses
    with pytest.raises(InputError, match=r"empty holds no result file of the 2 sequences \(looked for a\.txt"):
        analyze([tmp_path / "empty"], seqs, protocol="trackingnet-devkit")


def test_trackingnet_devkit_table_prints_the_coverage(tmp_path):
    """The devkit reports four numbers, Coverage first; dt analyze's table printed the other three (and P@20px), so
    the coverage that missing rows or files lower was only in report.json."""
    seqs, d = _short(tmp_path, "trackingnet")
    table = report_table(analyze([d], seqs, protocol="trackingnet-devkit"))
    # frames 0-1 perfect, 2-3 NaN rows: every curve point 2/4 (areas 0.5), coverage 2 of 4 frames; printed x100
    assert [c.header for c in table.columns][1:6] == ["Success", "Precision", "Norm P", "P@20px", "Coverage"]
    assert [next(iter(c.cells)) for c in table.columns][1:6] == ["50.00"] * 5


def test_a_huge_box_scores_without_numpy_overflow_warnings():
    """A result box of 1e308 x 1e308 printed 'RuntimeWarning: overflow encountered' lines amid the table."""
    import warnings

    from droptrack.eval.metrics import ope_sequence

    gt = np.array([[42.0, 31, 40, 30]] * 3)
    pred = np.array([[42.0, 31, 40, 30], [42, 31, 1e308, 1e308], [42, 31, 40, 30]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scored = ope_sequence(pred, gt, "otb", name="s")
    assert scored.iou.tolist() == [1.0, 0.0, 1.0]      # its area is inf: the overlap over it is 0
