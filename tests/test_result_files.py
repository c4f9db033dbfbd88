"""Result files as the official toolkits write them, and how `dt analyze` reads and scores them: delimiters,
line-numbered errors, rows past the ground truth (LaSOT monkey-17), splits without ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import InputError
from droptrack.eval import results as R
from droptrack.eval.report import analyze
from droptrack.eval.report_view import error_lines
from helpers import FakeSeq, cli, one_line_error

G = [10.0, 10.0, 20.0, 20.0]


def test_reads_every_official_writer(tmp_path):
    """OSTrack/pytracking (tab, ints), the GOT-10k toolkit (comma, %.3f), CRLF, no final newline, blank lines and a
    UTF-8 BOM all give the same boxes."""
    want = [[1.0, 2.0, 30.0, 40.0], [5.0, 6.0, 7.5, 8.0]]
    texts = ["1\t2\t30\t40\n5\t6\t7.5\t8\n", "1.000,2.000,30.000,40.000\n5.000,6.000,7.500,8.000\n",
             "1,2,30,40\r\n5,6,7.5,8", "\n1 2 30 40\n\n5 6 7.5 8\n\n", "\ufeff1,2,30,40\n5,6,7.5,8\n"]
    for i, text in enumerate(texts):
        (tmp_path / f"{i}.txt").write_text(text, encoding="utf-8", newline="")
        assert R.read_result(tmp_path / f"{i}.txt", 2).tolist() == want


def test_errors_name_the_files_own_line(tmp_path):
    """'NaN in row 1' counted from 0 and skipped blank lines, and junk said only 'not a table of numbers'; each
    error now names the 1-based line a text editor shows."""
    cases = {"nan": ("1\t2\t3\t4\n\nnan\t2\t3\t4\n", ":3: NaN in the box"),
             "three": ("1,2,3,4\n1,2,3\n", ":2: 3 numbers, expected 4"),
             "junk": ("1,2,3,4\nabc,2,3,4\n", ":2: not a table of numbers (got 'abc,2,3,4')"),
             "comma": ("1,2,3,4,\n", ":1: not a table of numbers"),
             "empty field": ("1,2,3,4\n1,,2,3,4\n", ":2: not a table of numbers")}   # was read as 1,2,3,4
    for name, (text, message) in cases.items():
        (tmp_path / f"{name}.txt").write_text(text)
        with pytest.raises(InputError) as exc:
            R.read_result(tmp_path / f"{name}.txt")
        assert str(exc.value).startswith(f"{tmp_path / name}.txt{message}")
    (tmp_path / "t.txt").write_text("0.1\n0.2\nx\n")
    with pytest.raises(InputError, match=r"t\.txt:3: not a table of numbers.*write_times"):
        R.read_times(tmp_path / "t.txt")


def _lasot(tmp_path, rows: int) -> tuple[list[FakeSeq], object]:
    """One 4-frame LaSOT sequence and a tracker folder whose file has `rows` rows (IoU 1, 2/3, 1, 1, then junk)."""
    seq = FakeSeq("monkey-17", "lasot", np.array([G] * 4), visible=np.ones(4, bool))
    boxes = np.array([G, [14, 10, 20, 20], G, G, [500, 500, 5, 5], [0, 0, 0, 0]])[:rows]
    d = tmp_path / f"r{rows}"
    R.write_result(d / "monkey-17.txt", boxes)
    return [seq], d


def test_rows_past_the_ground_truth_are_ignored_as_ostrack_does(tmp_path):
    """OSTrack's analysis truncates a result longer than the GT (its comment: LaSOT monkey-17, where some trackers'
    files are longer); dt analyze left that sequence out of every tracker's averages, so a 280-sequence LaSOT
    comparison with published raw results ran on 279. The extra rows are now ignored, with a note."""
    seqs, d6 = _lasot(tmp_path, 6)
    rep = analyze([d6], seqs)
    t = rep.trackers[0]
    assert rep.sequences == ["monkey-17"] and t.errors == {}
    # IoU per frame 1, 2/3 (overlap 16x20 of union 480), 1, 1: above t for the 14 thresholds 0 ... 0.65,
    # 3 of 4 frames for the 6 thresholds 0.70 ... 0.95, none at 1.0
    assert t.result.auc == pytest.approx((14 + 6 * 0.75) / 21)
    assert t.result.precision == 1.0                                           # centre 4 px off
    note = f"{d6 / 'monkey-17.txt'}: 6 rows for 4 frames; the last 2 are ignored, as OSTrack's analysis does"
    assert t.notes == {"monkey-17": note} and error_lines(rep) == [f"r6: monkey-17 scored: {note}"]
    tn = analyze([d6], seqs, protocol="trackingnet-devkit").trackers[0]
    assert tn.errors == {} and "as the TrackingNet devkit does" in tn.notes["monkey-17"]
    many = [FakeSeq(f"s{i}", "lasot", np.array([G] * 4), visible=np.ones(4, bool)) for i in range(7)]
    for s in many:
        R.write_result(tmp_path / "many" / f"{s.name}.txt", [G] * 5)
    lines = error_lines(analyze([tmp_path / "many"], many))
    assert len(lines) == 6 and lines[-1] == "many: 2 more sequences scored the same way (report.json: notes)"
    _, d4 = _lasot(tmp_path, 4)
    assert analyze([d4], seqs).trackers[0].result.auc == t.result.auc and not analyze([d4], seqs).trackers[0].notes
    # the GOT-10k toolkit asserts identical shapes, and a short file is never padded silently
    with pytest.raises(InputError, match="6 rows for a sequence of 4 frames"):
        analyze([d6], seqs, protocol="got10k-toolkit")
    _, d3 = _lasot(tmp_path, 3)
    with pytest.raises(InputError, match="3 rows for a sequence of 4 frames"):
        analyze([d3], seqs)


def test_split_without_ground_truth_is_refused(tmp_path, monkeypatch):
    """TrackingNet's test split (dt analyze's default for trackingnet) and GOT-10k's publish only the first box:
    every later frame scored as a miss (TrackingNet success 20.0 for a perfect tracker) or AO was NaN; now it is
    one line saying where such a split is scored. A sequence without GT among annotated ones is left out."""
    first = np.full((5, 4), np.nan)
    first[0] = G
    seqs = [FakeSeq("a", "trackingnet", first.copy()), FakeSeq("b", "trackingnet", first.copy())]
    d = tmp_path / "trk"
    for s in seqs:
        R.write_result(d / f"{s.name}.txt", np.array([G] * 5))
    for protocol in ("trackingnet-devkit", "got10k-toolkit", "ostrack-ope"):
        with pytest.raises(InputError, match="none of the 2 sequences has ground truth after the first frame .* "
                                             r"\(trackingnet_submit\.zip\)"):
            analyze([d], seqs, protocol=protocol)
    import droptrack.data   # the real package (its other modules stay importable), with these sequences as the data

    monkeypatch.setattr(droptrack.data, "get_sequences", lambda dataset, root=None, split=None, names=None: seqs)
    line = one_line_error(cli("analyze", d, "--dataset", "trackingnet", "--output", tmp_path / "out"))
    assert "score it on the benchmark's server" in line and not (tmp_path / "out" / "report.json").exists()
    seqs[1].boxes = np.array([G] * 5)
    rep = analyze([d], seqs)
    assert rep.sequences == ["b"] and "a has no ground truth after the first frame" in rep.trackers[0].errors["a"]
    assert rep.trackers[0].result.success == pytest.approx(1.0)               # the devkit's perfect score


def test_nan_rows_fail_under_the_trackingnet_devkit_and_are_refused_under_ostrack(tmp_path):
    """The TrackingNet devkit scores a NaN row as a missed frame (IoU and distances NaN pass no threshold); dt
    analyze left the whole sequence out. OSTrack/pytracking raise on NaN, so the OPE protocols still refuse it."""
    seq = FakeSeq("a", "trackingnet", np.array([G] * 4))
    d = tmp_path / "trk"
    d.mkdir()
    (d / "a.txt").write_text("10,10,20,20\nnan,nan,nan,nan\n10,10,20,20\n10,10,20,20\n")
    r = analyze([d], [seq]).trackers[0].result
    assert r.success_curve.tolist() == [0.75] * 21 and r.success == pytest.approx(0.75)   # 3 of 4 frames hit
    assert r.precision == pytest.approx(0.75) and r.precision_at_20px == 0.75 and r.coverage == 0.75
    with pytest.raises(InputError, match=r"a\.txt:2: NaN in the box"):
        analyze([d], [seq], protocol="ostrack-ope")


def test_got10k_val_scores_from_annotations_alone_with_meta_resolution(tmp_path):
    """The GOT-10k toolkit clips boxes to meta_info.ini's `resolution`; dt analyze read the first image instead, so
    a GOT-10k val copy with annotations but no images (a laptop comparing downloaded results) failed every
    sequence. Now the stated resolution is the bound: a box 20 px out on the left is shifted in (IoU 1)."""
    from droptrack.data.got10k import read

    seq_dir = tmp_path / "val" / "GOT-10k_Val_000001"
    seq_dir.mkdir(parents=True)
    (tmp_path / "val" / "list.txt").write_text("GOT-10k_Val_000001\n")
    (seq_dir / "groundtruth.txt").write_text("0,5,40,20\n0,5,40,20\n0,5,40,20\n")
    (seq_dir / "cover.label").write_text("8\n8\n8\n")
    (seq_dir / "meta_info.ini").write_text("[METAINFO]\nobject_class: cat\nresolution: (640, 480)\n")
    seqs = read(tmp_path, "val", None)
    assert seqs[0].image_size == (640, 480) and seqs[0].object_class == "cat"
    d = tmp_path / "trk"
    R.write_result(d / "GOT-10k_Val_000001.txt", [[0, 5, 40, 20], [-20, 5, 40, 20], [20, 5, 40, 20]])
    r = analyze([d], seqs).trackers[0].result
    assert r.protocol == "got10k-toolkit" and r.seq_frames.tolist() == [2]
    assert r.ao == pytest.approx((1.0 + 20 * 20 / (2 * 800 - 400)) / 2)        # 1 (clipped), then 1/3
