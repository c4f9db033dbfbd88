"""`dt data xywh A B C`: every file is checked before any is rewritten, so a file that is not corners (or converted
already) leaves them all as they were, and the message says none was converted (it used to convert A, refuse B with
'nothing was changed' and leave C); the same file named twice is converted once; a write that fails (a full disk)
names the files converted before it and those left as they were."""

from __future__ import annotations

from disk_limits import dt_limited
from helpers import cli, one_line_error

CORNERS = "10,20,110,220\n"
XYWH = "10,20,100,200\n"


def test_a_bad_file_among_several_leaves_every_file_as_it_was(tmp_path):
    a, b, c = (tmp_path / n for n in ("a.txt", "b.txt", "c.txt"))
    a.write_text(CORNERS)
    b.write_text("10,20,5,220\n")   # x2 < x1: not corners
    c.write_text(CORNERS)
    line = one_line_error(cli("data", "xywh", a, b, c))
    assert "b.txt:1: x2,y2 5,220 lie before x1,y1 10,20" in line, line
    assert line.endswith("none of the 3 files was converted"), line
    assert a.read_text() == CORNERS and c.read_text() == CORNERS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "c.txt"]   # no .xyxy


def test_a_file_converted_already_among_several_converts_none(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(CORNERS)
    b.write_text(XYWH)
    (tmp_path / "b.txt.xyxy").write_text(CORNERS)
    line = one_line_error(cli("data", "xywh", a, b))
    assert "b.txt.xyxy exists" in line and line.endswith("none of the 2 files was converted"), line
    assert a.read_text() == CORNERS and not (tmp_path / "a.txt.xyxy").exists()


def test_the_same_file_named_twice_is_converted_once(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text(CORNERS)
    out = cli("data", "xywh", a, tmp_path / "." / "a.txt")
    assert out.exit_code == 0, out.output
    assert a.read_text() == XYWH and (tmp_path / "a.txt.xyxy").read_text() == CORNERS
    assert out.output.count("converted to x,y,w,h") == 1, out.output


def test_a_full_disk_names_the_files_converted_and_those_left(tmp_path):
    """Files may not grow past 2000 bytes: big.txt's copy cannot be written."""
    small, big, last = (tmp_path / n for n in ("small.txt", "big.txt", "last.txt"))
    small.write_text(CORNERS)
    big.write_text(CORNERS * 300)
    last.write_text(CORNERS)
    p = dt_limited(["data", "xywh", str(small), str(big), str(last)], 2000, tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith("error: no room left writing"), line
    assert line.endswith(f"; converted: {small} (its original: small.txt.xyxy); left as they were: {big}, {last}"), line
    assert small.read_text() == XYWH and big.read_text() == CORNERS * 300 and last.read_text() == CORNERS
    assert not (tmp_path / "big.txt.xyxy").exists() and not (tmp_path / "last.txt.xyxy").exists()
