"""dt analyze's console tables with many long-named trackers, as a pipe (80 columns) or a narrow terminal shows them."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.console import Console

from droptrack.eval import results as R
from droptrack.eval.attributes import AttributeReport
from droptrack.eval.attributes_view import print_items
from droptrack.eval.report import analyze
from droptrack.eval.report_view import attribute_lines, report_table
from helpers import FakeSeq

NAMES = ["OSTrack-256-baseline", "droptrack_vitb384_ce_fp16_tensorrt", "droptrack_vitb384_ce_fp32_tensorrt", "kcf",
         "csrt_opencv_4.10_default_settings", "mosse", "MixFormerV2-S", "SeqTrack-L384 (official raw results)"]


def test_eight_long_names_are_printed_whole_and_no_number_is_cut(tmp_path):
    """At 80 columns rich cut the names to 'droptrack_vitb384…' (the fp16 and fp32 rows looked the same) and, in the
    per-attribute table, names to 'dro…' and the difference column's numbers to '+21…'."""
    seqs = [FakeSeq(f"s{k}", "otb", np.array([[20.0 + 3 * i, 30.0, 40.0, 30.0] for i in range(10)])) for k in range(2)]
    for j, name in enumerate(NAMES):
        for s in seqs:
            p = s.boxes.copy()
            p[1:, 0] += 2 * j
            R.write_result(tmp_path / name / f"{s.name}.txt", p)
    rep = analyze([tmp_path / n for n in NAMES], seqs)
    scores = {"Illumination Variation": {n: {"auc": 0.8 - 0.05 * i} for i, n in enumerate(NAMES)}}
    rep.attributes = AttributeReport("test", ("auc",), 2, counts={"Illumination Variation": 2}, scores=scores)
    buf = io.StringIO()
    print_items(Console(file=buf, width=80), [report_table(rep), *attribute_lines(rep)])
    out = buf.getvalue()
    assert "…" not in out
    rows = [ln for ln in out.splitlines() if ln.startswith("│")]
    for i, name in enumerate(NAMES[:-1]):                          # the main table: one row per tracker, whole
        assert any(re.match(rf"│ {re.escape(name)} +│ +\d", ln) for ln in rows), (name, out)
    flat = " ".join(out.split())
    assert "SeqTrack-L384 (official raw results)" in flat and "rows in the order the folders were given" in flat
    for i, name in enumerate(NAMES, 1):                            # the per-attribute table's column key
        assert f"T{i}: {name}" in [ln.rstrip() for ln in out.splitlines()]
    assert re.search(r"│ Illumination Variation +│ +2 +│ +80\.0 +│ +75\.0 .*│ +\+5\.0 │", out), out


def test_a_submission_zip_says_how_to_unpack_it(tmp_path):
    """dt eval writes got10k_submit.zip / trackingnet_submit.zip; passed to dt analyze it said only 'is a file; pass
    the folder', as for any stray file."""
    import zipfile


    from droptrack.errors import InputError

    seqs = [FakeSeq("s0", "got10k", np.array([[20.0 + 3 * i, 30.0, 40.0, 30.0] for i in range(10)]))]
    R.write_got10k_submission(tmp_path / "unused", {"s0": seqs[0].boxes}, zip_path=tmp_path / "got10k_submit.zip")
    assert zipfile.is_zipfile(tmp_path / "got10k_submit.zip")
    with pytest.raises(InputError) as err:
        analyze([tmp_path / "got10k_submit.zip"], seqs)
    assert str(err.value) == (f"{tmp_path / 'got10k_submit.zip'} is a zip archive, not a result folder; unpack it "
                              f"and pass the folder: unzip -d {tmp_path / 'got10k_submit'} "
                              f"{tmp_path / 'got10k_submit.zip'}, then dt analyze {tmp_path / 'got10k_submit'} ...")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="notes.txt is a file; pass the folder"):
        analyze([tmp_path / "notes.txt"], seqs)


def test_trackingnet_devkit_lists_where_two_trackers_differ_most(tmp_path):
    """Under --protocol trackingnet-devkit the per-sequence table looked up an 'auc' score the devkit does not have,
    so it was silently missing; it now ranks by the devkit's success score."""
    seqs = [FakeSeq(f"s{k}", "trackingnet", np.array([[20.0, 30.0, 40.0, 30.0]] * 11)) for k in range(2)]
    for name, shift in (("A", (0.0, 0.0)), ("B:smile:", (0.0, 20.0))):   # B misses s1 after the first frame
        for s, dx in zip(seqs, shift):
            p = s.boxes.copy()
            p[1:, 0] += dx
            R.write_result(tmp_path / name / f"{s.name}.txt", p)
    rep = analyze([tmp_path / "A", tmp_path / "B:smile:"], seqs, protocol="trackingnet-devkit")
    # s1: IoU 20*30/(2*1200-600) = 1/3 on frames 1-10; the devkit's 21 thresholds with IoU >= t pass 0..0.30 (7 of
    # them) there and all 21 on frame 0; trapezoidal area: frame success rates are 1 at t <= 0.3, 1/11 at 0.35..1
    rate = np.array([1.0] * 7 + [1 / 11] * 14)
    expected = float(((rate[1:] + rate[:-1]) / 2).sum() / 20)
    assert rep.differences[0]["sequence"] == "s1"
    assert rep.differences[0]["diff"] == pytest.approx(1.0 - expected)
    buf = io.StringIO()
    print_items(Console(file=buf, width=100), attribute_lines(rep))
    # the name as it is ('B:smile:' was an emoji in the title and header: rich's emoji codes)
    assert "Largest per-sequence SUCCESS differences: A vs B:smile:" in " ".join(buf.getvalue().split())
    assert re.search("┃ +B:smile: ┃", buf.getvalue()), buf.getvalue()   # the column may be wider: its title


def test_ties_are_not_listed_as_differences(tmp_path):
    """Two trackers equal on some sequences: the 'largest differences' table filled up with +0.0 rows, and for two
    identical result folders it was a table of zeros; now ties are left out and identical scores said in a line."""
    seqs = [FakeSeq(f"s{k}", "otb", np.array([[20.0, 30.0, 40.0, 30.0]] * 11)) for k in range(3)]
    for name, shifts in (("A", (0, 0, 0)), ("B", (0, 0, 20)), ("C", (0, 0, 0))):
        for s, dx in zip(seqs, shifts):
            p = s.boxes.copy()
            p[1:, 0] += dx
            R.write_result(tmp_path / name / f"{s.name}.txt", p)
    rep = analyze([tmp_path / "A", tmp_path / "B"], seqs)
    assert [d["sequence"] for d in rep.differences] == ["s2"]
    assert rep.differences[0]["diff"] == pytest.approx((20 - 7) / 21 * 10 / 11)   # IoU 1/3 on frames 1-10
    same = analyze([tmp_path / "A", tmp_path / "C"], seqs)
    assert same.differences == []
    assert attribute_lines(same)[-1] == "A and C have the same AUC on every sequence"


def test_one_row_too_many_or_too_few_reads_in_the_singular(tmp_path):
    """'the last 1 are ignored' and 'the missing 1 frames are scored as misses'."""
    seqs = [FakeSeq(f"s{k}", "otb", np.array([[20.0, 30.0, 40.0, 30.0]] * 4)) for k in range(2)]
    (tmp_path / "A").mkdir()
    (tmp_path / "A" / "s0.txt").write_text("20,30,40,30\n" * 5)
    (tmp_path / "A" / "s1.txt").write_text("20,30,40,30\n" * 3)
    notes = analyze([tmp_path / "A"], seqs).trackers[0].notes
    assert notes["s0"] == f"{tmp_path / 'A' / 's0.txt'}: 5 rows for 4 frames; the last row is ignored, as OSTrack's " \
                          "analysis does"
    assert notes["s1"] == f"{tmp_path / 'A' / 's1.txt'}: 3 rows for 4 frames; the missing frame is scored as a miss " \
                          "(zero boxes: IoU 0, centre far off), as OSTrack's analysis does"


def test_fps_from_a_few_timed_sequences_says_so(tmp_path):
    """A folder with _time.txt for 1 of 3 sequences got an FPS from that one, printed like any other tracker's."""
    import json

    from droptrack.eval.report_view import error_lines

    seqs = [FakeSeq(f"s{k}", "otb", np.array([[20.0, 30.0, 40.0, 30.0]] * 4)) for k in range(3)]
    for name in ("A", "B"):
        for s in seqs:
            R.write_result(tmp_path / name / f"{s.name}.txt", s.boxes)
            if name == "B" or s.name == "s1":
                R.write_times(tmp_path / name / f"{s.name}_time.txt", [0.02, 0.01, 0.01, 0.01])
    rep = analyze([tmp_path / "A", tmp_path / "B"], seqs, output_dir=tmp_path / "out")
    assert [t.fps for t in rep.trackers] == [pytest.approx(4 / 0.05), pytest.approx(12 / 0.15)]
    assert error_lines(rep) == ["A: FPS from 1 of 3 sequences (2 have no _time.txt)"]
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [t["fps_sequences"] for t in data["trackers"]] == [1, 3]


def test_output_folder_may_not_be_the_attributes_folder(tmp_path):
    """--attributes DIR is an input too: `-o DIR` wrote report.json and the plots into the toolkit's att/ folder."""
    import cv2

    from helpers import cli, one_line_error

    seq = tmp_path / "otb" / "Alpha"
    (seq / "img").mkdir(parents=True)
    for i in range(1, 4):
        cv2.imwrite(str(seq / "img" / f"{i:04d}.jpg"), np.zeros((60, 80, 3), np.uint8))
    (seq / "groundtruth_rect.txt").write_text("10,10,10,10\n" * 3)
    (tmp_path / "A").mkdir()
    (tmp_path / "A" / "Alpha.txt").write_text("10,10,10,10\n" * 3)
    att = tmp_path / "att"
    att.mkdir()
    (att / "Alpha.txt").write_text("1,0,0,0,0,0,0,0,0,0,0,0,0,0\n")
    line = one_line_error(cli("analyze", tmp_path / "A", "--dataset", "otb", "--root", tmp_path / "otb",
                              "--attributes", att, "-o", att))
    assert line == f"error: --output '{att}' is the input '{att}'; pass another output folder"
    assert sorted(p.name for p in att.iterdir()) == ["Alpha.txt"]


def test_lines_reach_a_terminal_as_they_read():
    """The lines under the tables (report and plot paths, notes) were coloured by rich's highlighter on a terminal:
    escape sequences around the numbers and path parts of a name, unlike dt eval's and dt bench's other lines."""
    buf = io.StringIO()
    line = "report: /tmp/run 2/report.json (fps 31.5, 'x')"
    print_items(Console(file=buf, width=200, force_terminal=True, color_system="standard"), [line])
    assert buf.getvalue() == line + "\n"


def test_a_sequence_one_tracker_does_not_score_is_no_tie(tmp_path):
    """Two trackers equal wherever both score, one with a NaN row on s0 (unscored under the GOT-10k toolkit): the line
    said 'the same AO on every sequence' beside a per-sequence table showing '-' for it."""
    seqs = [FakeSeq(f"s{k}", "got10k", np.array([[20.0, 30.0, 40.0, 30.0]] * 11)) for k in range(3)]
    for name in ("A", "D"):
        for s in seqs:
            R.write_result(tmp_path / name / f"{s.name}.txt", s.boxes)
    rows = (tmp_path / "D" / "s0.txt").read_text().splitlines()
    rows[3] = "NaN,NaN,NaN,NaN"   # as a tracker's own writer may put it
    (tmp_path / "D" / "s0.txt").write_text("\n".join(rows) + "\n")
    rep = analyze([tmp_path / "D", tmp_path / "A"], seqs, protocol="got10k-toolkit")
    assert rep.differences == []
    assert attribute_lines(rep)[-1] == "D and A have the same AO on every sequence both score (2 of 3)"


def test_a_last_bit_apart_is_a_tie():
    """A mean of three identical GOT-10k repetitions differs from one run in the last bit: it was listed as a
    '-0.0' largest difference."""
    from types import SimpleNamespace

    from droptrack.eval.attributes import largest_differences

    def tracker(name, score):
        return SimpleNamespace(name=name, result=SimpleNamespace(per_sequence=lambda: {"s": {"ao": score}}))

    one = 0.1 + 0.2   # 0.30000000000000004
    rep = SimpleNamespace(protocol="got10k-toolkit", sequences=["s"], trackers=[tracker("a", one), tracker("b", 0.3)])
    assert one != 0.3 and largest_differences(rep, "a", "b") == []
    rep.trackers[1] = tracker("b", 0.2)
    assert [round(d["diff"], 6) for d in largest_differences(rep, "a", "b")] == [0.1]


@pytest.mark.parametrize("value", [",", " , "])
def test_analyze_sequences_naming_none_is_refused(tmp_path, value):
    """`dt analyze --sequences ","` scored every sequence; dt eval refuses it."""
    from droptrack.data.synth import generate_synth
    from helpers import cli, one_line_error

    root = generate_synth(tmp_path / "set", 1, 3, seed=0, size=(96, 64), split="val")
    (tmp_path / "kcf").mkdir()
    line = one_line_error(cli("analyze", tmp_path / "kcf", "--dataset", "synth", "--root", root, "-o", tmp_path / "a",
                              "--sequences", value))
    assert line == "error: --sequences names no sequence; pass comma-separated names, or leave it out for all"
    assert not (tmp_path / "a").exists()


def test_a_title_wider_than_its_table_stays_on_one_line():
    """Two short tracker names give a narrow differences table: rich wrapped its title at the table's width,
    'Largest per-sequence AUC differences: kcf vs' and 'default' on two lines."""
    from droptrack.eval.attributes_view import difference_table

    rows = [{"sequence": "synth_val_00001", "kcf": 0.234, "default": 0.611, "diff": -0.377}]
    console = Console(file=io.StringIO(), width=80)
    print_items(console, [difference_table(rows, "kcf", "default", "auc")])
    lines = console.file.getvalue().splitlines()
    assert lines[0].strip() == "Largest per-sequence AUC differences: kcf vs default", lines[:3]
    assert lines[1].startswith("┏"), lines[:3]
