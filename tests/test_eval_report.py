"""Result files, submissions, analyze() and `dt analyze` on fake trackers (no dataset readers involved)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import droptrack.data   # the real package: tests give get_sequences their sequences (monkeypatch)
from droptrack.errors import InputError
from droptrack.eval import results as R
from droptrack.eval.report import analyze
from droptrack.eval.report_view import report_table
from helpers import FakeSeq


def make_seqs(tag: str = "otb", n: int = 3, frames: int = 12) -> list[FakeSeq]:
    """Sequences with a target drifting right."""
    out = []
    for k in range(n):
        b = np.array([[20.0 + 3 * i + k, 30.0, 40.0, 30.0] for i in range(frames)])
        out.append(FakeSeq(f"seq{k}", tag, b, cover=np.ones(frames, int)))
    return out


def write_tracker(d: Path, seqs: list[FakeSeq], shift: float) -> Path:
    """pytracking-style results: GT shifted by `shift` px after frame 0, plus time files."""
    for s in seqs:
        p = s.boxes.copy()
        p[1:, 0] += shift
        R.write_result(d / f"{s.name}.txt", p)
        R.write_times(d / f"{s.name}_time.txt", np.full(len(p), 0.01))
    return d


def test_result_roundtrip_truncates_toward_zero(tmp_path):
    p = R.write_result(tmp_path / "a.txt", [[1.9, -1.7, 10.5, 3.0], [0, 0, 1, 1]])
    assert p.read_text() == "1\t-1\t10\t3\n0\t0\t1\t1\n"
    assert np.array_equal(R.read_result(p, 2), [[1, -1, 10, 3], [0, 0, 1, 1]])
    t = R.write_times(tmp_path / "a_time.txt", [0.5, 0.25])
    assert t.read_text() == "0.500000\n0.250000\n"
    assert np.array_equal(R.read_times(t), [0.5, 0.25])
    (tmp_path / "c.txt").write_text("1,2,3,4\n5,6,7,8\n")
    assert R.read_result(tmp_path / "c.txt").shape == (2, 4)        # comma separated also accepted
    assert not list(tmp_path.glob(".*.tmp"))                        # atomic writes leave no temp files


def test_read_result_rejects_wrong_rows_nan_and_junk(tmp_path):
    p = R.write_result(tmp_path / "a.txt", np.ones((3, 4)))
    with pytest.raises(InputError, match="3 rows for a sequence of 5 frames"):
        R.read_result(p, 5)
    (tmp_path / "n.txt").write_text("1\t2\t3\t4\nnan\t2\t3\t4\n")
    with pytest.raises(InputError, match="n.txt:2: NaN"):                # the file's own line number
        R.read_result(tmp_path / "n.txt")
    (tmp_path / "j.txt").write_text("1\t2\t3\n1\t2\t3\t4\n")
    with pytest.raises(InputError, match="j.txt:1: 3 numbers, expected 4"):
        R.read_result(tmp_path / "j.txt")
    with pytest.raises(InputError, match="NaN or inf"):
        R.write_result(tmp_path / "x.txt", [[np.nan, 1, 2, 3]])


def test_got10k_and_trackingnet_submissions(tmp_path):
    boxes = {"GOT-10k_Val_000001": np.array([[1.5, 2, 3, 4], [5, 6, 7, 8]])}
    z = R.write_got10k_submission(tmp_path / "sub", boxes, {"GOT-10k_Val_000001": [0.1, 0.2]},
                                  zip_path=tmp_path / "got10k_submit.zip")
    with zipfile.ZipFile(z) as zf:
        assert sorted(zf.namelist()) == ["GOT-10k_Val_000001/GOT-10k_Val_000001_001.txt",
                                         "GOT-10k_Val_000001/GOT-10k_Val_000001_time.txt"]
        assert zf.read("GOT-10k_Val_000001/GOT-10k_Val_000001_001.txt").decode() == "1,2,3,4\n5,6,7,8\n"
    assert R.find_result(tmp_path / "sub", "GOT-10k_Val_000001")[0].name == "GOT-10k_Val_000001_001.txt"
    t = R.write_trackingnet_submission(tmp_path / "trackingnet_submit.zip", {"a": np.ones((2, 4))})
    with zipfile.ZipFile(t) as zf:
        assert zf.namelist() == ["a.txt"] and zf.read("a.txt") == b"1,1,1,1\n1,1,1,1\n"


def test_analyze_records_per_sequence_errors_and_excludes_them(tmp_path):
    seqs = make_seqs()
    a = write_tracker(tmp_path / "good", seqs, 0.0)
    b = write_tracker(tmp_path / "worse", seqs, 15.0)
    (b / "seq2.txt").write_text("20\t30\t40\n" * 12)                # 3 numbers a row
    rep = analyze([a, b], seqs, output_dir=tmp_path / "out")
    assert rep.protocol == "ostrack-ope" and rep.sequences == ["seq0", "seq1"]
    assert "seq2.txt:1: 3 numbers, expected 4" in rep.trackers[1].errors["seq2"]
    assert rep.trackers[0].result.auc == pytest.approx(20 / 21)
    assert rep.trackers[0].fps == pytest.approx(100.0)
    assert rep.trackers[1].result.auc < rep.trackers[0].result.auc
    assert report_table(rep).row_count == 2


def test_analyze_got10k_protocol(tmp_path):
    seqs = make_seqs("got10k", n=2, frames=6)
    seqs[1].cover[3] = 0
    d = tmp_path / "trk"
    R.write_got10k_submission(d, {s.name: s.boxes for s in seqs})
    rep = analyze([d], seqs, output_dir=tmp_path / "out")
    assert rep.protocol == "got10k-toolkit"
    assert rep.trackers[0].result.ao == pytest.approx(1.0) and rep.trackers[0].result.seq_frames.tolist() == [5, 4]
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["plots"] == {"success": "success.png"} and (tmp_path / "out" / "success.png").is_file()
    assert set(data["trackers"][0]["scores"]) == {"ao", "sr50", "sr75"}


def test_got10k_under_ope_ignores_absence_and_cover(tmp_path):
    """pytracking/OSTrack's GOT-10k loader sets no target_visible, so its OPE analysis scores an absent/cover-0
    frame like any other: a perfect tracker keeps AUC 20/21 and precision 1 (not 5/6 of that on one sequence)."""
    seqs = make_seqs("got10k", n=2, frames=6)
    for s in seqs:
        s.visible = np.ones(6, bool)
    seqs[1].visible[3], seqs[1].cover[3] = False, 0
    d = write_tracker(tmp_path / "trk", seqs, 0.0)
    r = analyze([d], seqs, protocol="ostrack-ope").trackers[0].result
    assert r.auc == pytest.approx(20 / 21) and r.precision == 1.0 and r.norm_precision == 1.0
    assert r.seq_avg_overlap.tolist() == [1.0, 1.0]


def test_dt_analyze_cli_writes_report_and_plots(tmp_path, monkeypatch):
    from droptrack.cli import app

    seqs = make_seqs("lasot")
    seqs[0].visible = np.ones(12, bool)
    monkeypatch.setattr(droptrack.data, "get_sequences", lambda dataset, root=None, split=None, names=None: seqs)
    a = write_tracker(tmp_path / "A", seqs, 0.0)
    b = write_tracker(tmp_path / "B", seqs, 8.0)
    (b / "seq1.txt").write_text("".join((b / "seq1.txt").read_text().splitlines(True)[:11]))   # stopped early
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["analyze", str(a), str(b), "--dataset", "lasot", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "AUC" in res.output and "report.json" in res.output
    data = json.loads((out / "report.json").read_text())
    assert data["schema_version"] == 1 and data["protocol"] == "ostrack-ope" and data["tag"] == "lasot"
    assert [t["name"] for t in data["trackers"]] == ["A", "B"]
    assert "11 rows" in data["trackers"][1]["errors"]["seq1"] and data["sequences"] == ["seq0", "seq2"]
    assert set(data["trackers"][0]["scores"]) == {"auc", "precision", "norm_precision", "op50", "op75"}
    assert len(data["trackers"][0]["curves"]["success"]["values"]) == 21
    for png in ("success.png", "precision.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(app, ["analyze", str(tmp_path / "nope"), "--dataset", "lasot", "--output", str(out)])
    assert bad.exit_code == 2 and "does not exist" in bad.output
    bad = CliRunner().invoke(app, ["analyze", str(out / "report.json"), "--dataset", "lasot", "--output", str(out)])
    assert bad.exit_code == 2 and "report.json is a file; pass the folder" in bad.output     # was 'does not exist'


def test_dt_analyze_prints_which_sequences_were_left_out_and_why(tmp_path, monkeypatch):
    """Two trackers covering different sequences: the console named only an error count ('Errors 1', '2/3
    sequences'); now each left-out sequence is printed with its reason, on one unbroken line."""
    from droptrack.cli import app

    seqs = make_seqs("otb")
    monkeypatch.setattr(droptrack.data, "get_sequences", lambda dataset, root=None, split=None, names=None: seqs)
    a = write_tracker(tmp_path / "A", seqs, 0.0)
    b = write_tracker(tmp_path / "B", seqs[:2], 8.0)                     # B never ran on seq2
    (a / "seq0.txt").write_text("")                                     # A's seq0 is empty
    res = CliRunner().invoke(app, ["analyze", str(a), str(b), "--dataset", "otb", "--output", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert f"A: seq0 left out of every tracker's averages: {a / 'seq0.txt'}: the file is empty; re-run the tracker " \
           "on this sequence" in lines
    assert f"B: seq2 left out of every tracker's averages: no result file for seq2 in {b} (looked for seq2.txt and " \
           "seq2/seq2_001.txt); run the tracker on this sequence" in lines
    assert sum("left out of every" in ln for ln in lines) == 2


def test_damaged_time_file_costs_the_fps_not_the_scores(tmp_path):
    """A junk or empty `_time.txt` (timing is optional) left the sequence out of every tracker's accuracy averages;
    now it is scored and only left out of the FPS, with the reason recorded and printed."""
    from droptrack.eval.report_view import error_lines

    seqs = make_seqs()
    a = write_tracker(tmp_path / "A", seqs, 0.0)
    R.write_times(a / "seq1_time.txt", np.full(12, 0.02))                  # 50 FPS on seq1, 100 elsewhere
    (a / "seq0_time.txt").write_text("abc\n")
    (a / "seq2_time.txt").write_text("")
    rep = analyze([a], seqs, output_dir=tmp_path / "out")
    t = rep.trackers[0]
    assert rep.sequences == ["seq0", "seq1", "seq2"] and t.errors == {}
    assert t.result.auc == pytest.approx(20 / 21)
    assert t.fps == pytest.approx(50.0)                                      # seq1 only
    assert "not a table of numbers" in t.timing_errors["seq0"] and "write_times" in t.timing_errors["seq0"]
    assert "the file is empty" in t.timing_errors["seq2"]
    assert error_lines(rep) == [f"A: seq0 scored, but left out of FPS: {t.timing_errors['seq0']}",
                                f"A: seq2 scored, but left out of FPS: {t.timing_errors['seq2']}"]
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert set(data["trackers"][0]["timing_errors"]) == {"seq0", "seq2"}


def test_dt_eval_output_folder_instead_of_tracker_folders(tmp_path):
    """`dt analyze results/otb` (dt eval's --output, which holds one folder per tracker) said 'no result file ...;
    run the tracker on this sequence'; now it names the tracker folders to pass."""
    seqs = make_seqs()
    write_tracker(tmp_path / "res" / "kcf", seqs, 0.0)
    write_tracker(tmp_path / "res" / "mosse", seqs, 5.0)
    (tmp_path / "res" / "empty").mkdir()
    res = tmp_path / "res"
    with pytest.raises(InputError, match=re.escape(f"{res} holds tracker folders (kcf, mosse), not result files; "
                                                   f"pass those folders: dt analyze {res / 'kcf'} {res / 'mosse'}") + "$"):
        analyze([res], seqs)
    with pytest.raises(InputError, match="no sequence could be scored"):                # a truly empty folder
        analyze([res / "empty"], seqs)
    opts = ["--dataset", "otb", "--per-sequence"]   # the command again, the tracker folders in the parent's place
    with pytest.raises(InputError, match=re.escape(f"pass those folders: dt analyze {res / 'empty'} {res / 'kcf'} "
                                                   f"{res / 'mosse'} --dataset otb --per-sequence") + "$"):
        analyze([res / "empty", res], seqs, options=opts)
