"""`dt data xywh` on an empty file (or one whose every row is without a box: NaN, 0,0,0,0) said '0 rows converted'
and left a FILE.xyxy copy of a file it did not change, which then refused a later conversion of that file as
'converted already'. Such a file alone is now refused in one line (exit 2, nothing written); among files with boxes
it is left as it is with a note, and only the others are converted."""

from __future__ import annotations

from helpers import cli, one_line_error


def test_an_empty_file_is_refused_and_left_as_it_is(tmp_path):
    f = tmp_path / "groundtruth.txt"
    f.write_text("")
    res = cli("data", "xywh", f)
    assert res.exit_code == 2, res.output
    assert one_line_error(res) == (f"error: {f} has no box row to convert (empty, or only rows without a box: NaN, "
                                   "0,0,0,0); nothing was changed; pass box files of x1,y1,x2,y2 rows")
    assert f.read_text() == "" and sorted(p.name for p in tmp_path.iterdir()) == ["groundtruth.txt"]


def test_files_without_boxes_among_others_are_skipped_with_a_note(tmp_path):
    a, b, c = (tmp_path / n for n in ("a.txt", "b.txt", "c.txt"))
    a.write_text("10,20,110,220\n")
    b.write_text("")
    c.write_text("nan,nan,nan,nan\n0,0,0,0\n")
    res = cli("data", "xywh", a, b, c)
    assert res.exit_code == 0, res.output
    assert a.read_text() == "10,20,100,200\n"   # 110 - 10, 220 - 20
    assert b.read_text() == "" and c.read_text() == "nan,nan,nan,nan\n0,0,0,0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "a.txt.xyxy", "b.txt", "c.txt"]
    for f in (b, c):
        assert f"{f}: no box row to convert (empty, or only rows without a box); left as it is, no .xyxy copy" \
            in res.output, res.output
    none = one_line_error(cli("data", "xywh", b, c))
    assert none.startswith("error: none of the 2 files has a box row to convert"), none
