"""Box files in corners x1,y1,x2,y2 where x,y,w,h is read were scored silently wrong (dt train, dt eval on one's own
footage, dt analyze). Ground truth that reads as corners inside its frame and past its edges as x,y,w,h gets a
warning; a result file that follows the ground truth only read as corners is refused (its sequence left out with
that error); both name the file, the numbers and `dt data xywh FILE`, which converts it (original kept as .xyxy).
Expectations below are computed by hand from the rows written."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.data.box_convention import ground_truth_note, result_problem
from droptrack.errors import CornerBoxFileWarning
from helpers import cli, one_line_error

CORNERS = [(60, 10, 90, 40), (62, 12, 92, 42), (20, 40, 50, 70)]   # in a 100x80 frame; as x,y,w,h all run past it


def footage(root, rows, name="walk", size=(100, 80)):
    """A 3-frame image-folder sequence of `size` (W, H) with `rows` as its groundtruth.txt."""
    seq = root / name
    seq.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(len(rows)):
        cv2.imwrite(str(seq / f"{i + 1:04d}.png"), rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    (seq / "groundtruth.txt").write_text("".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return seq


def test_corner_ground_truth_is_named_with_its_numbers(tmp_path):
    gt = tmp_path / "gt.txt"
    note = ground_truth_note(gt, np.array(CORNERS, float), 100, 80)
    assert note == (f"{gt}: 3 of 3 boxes run past the 100x80 frame read as x,y,w,h (row 1: 60,10,90,40 reaches "
                    "150,50), while every box read as corners x1,y1,x2,y2 lies inside it: the file looks like "
                    f"x1,y1,x2,y2, and is read as x,y,w,h; if it is, convert it: dt data xywh {gt}")
    # a row without a box (NaN, 0,0,0,0) is no evidence either way; the row named is the file's own
    rows = np.array([(np.nan,) * 4, (0, 0, 0, 0), *CORNERS], float)
    assert "3 of 3 boxes" in ground_truth_note(gt, rows, 100, 80) and "(row 3: 60,10,90,40" in \
        ground_truth_note(gt, rows, 100, 80)


@pytest.mark.parametrize("rows", [
    [(70, 10, 20, 30), (80, 10, 20, 30), (90, 10, 20, 30)],    # leaving the frame on the right: x > w
    [(85, 10, 14, 20), (86, 10, 14, 20)],                      # near the right edge, inside
    [(10, 5, 95, 70), (5, 5, 90, 70), (3, 3, 90, 70)],         # a close-up past the edge in 1 of 3 frames
    [(60, 10, 90, 40), (62, 12, 92, 42), (20, 40, 50, 90)],    # as corners the last runs past the frame (y2 90 > 81)
])
def test_real_x_y_w_h_boxes_near_and_past_the_edges_are_left_alone(rows):
    assert ground_truth_note("gt.txt", np.array(rows, float), 100, 80) is None


def test_own_footage_with_corner_ground_truth_warns_where_it_is_read(tmp_path):
    """--dataset folder (dt eval, dt analyze) and a SYNTH root of one's own sequences (dt train --data, dt eval)."""
    seq = footage(tmp_path / "clips", CORNERS)
    for dataset in ("folder", "synth"):
        with pytest.warns(CornerBoxFileWarning, match=r"groundtruth.txt: 3 of 3 boxes run past the 100x80 frame"):
            get_sequences(dataset, root=tmp_path / "clips")
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "walk.txt").write_text("60\t10\t90\t40\n62\t12\t92\t42\n20\t40\t50\t70\n")
    out = cli("analyze", tmp_path / "res", "--dataset", "folder", "--root", tmp_path / "clips", "-o", tmp_path / "an")
    assert out.exit_code == 0, out.output   # the file and the result agree: scored, after one 'warning:' line
    assert [ln for ln in out.output.splitlines() if ln.startswith("warning:")] == [
        f"warning: {seq / 'groundtruth.txt'}: 3 of 3 boxes run past the 100x80 frame read as x,y,w,h (row 1: "
        "60,10,90,40 reaches 150,50), while every box read as corners x1,y1,x2,y2 lies inside it: the file looks like "
        f"x1,y1,x2,y2, and is read as x,y,w,h; if it is, convert it: dt data xywh {seq / 'groundtruth.txt'}"]
    (seq / "groundtruth.txt").write_text("60,10,30,30\n62,12,30,30\n20,40,30,30\n")   # the same, as x,y,w,h
    with warnings.catch_warnings():
        warnings.simplefilter("error", CornerBoxFileWarning)
        for dataset in ("folder", "synth"):
            get_sequences(dataset, root=tmp_path / "clips")


def test_a_video_s_corner_ground_truth_warns_with_the_video_s_frame_size(tmp_path):
    """--dataset video: clip.txt beside clip.avi, the frame size from the video (120x80: the third box fits in)."""
    (tmp_path / "v").mkdir()
    writer = cv2.VideoWriter(str(tmp_path / "v" / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (120, 80))
    for _ in range(3):
        writer.write(np.random.default_rng(1).integers(0, 255, (80, 120, 3), dtype=np.uint8))
    writer.release()
    (tmp_path / "v" / "clip.txt").write_text("60,10,90,40\n62,12,92,42\n20,10,50,40\n")
    with pytest.warns(CornerBoxFileWarning, match=r"clip.txt: 2 of 3 boxes run past the 120x80 frame read as x,y,w,h "
                                                  r"\(row 1: 60,10,90,40 reaches 150,50\)"):
        get_sequences("video", root=tmp_path / "v")


def test_result_reading_as_corners_is_named_with_both_ious():
    gt = np.array([(10, 10, 20, 20), (30, 30, 20, 20)], float)
    pred = np.array([(10, 10, 30, 30), (30, 30, 50, 50)], float)   # gt's corners
    # read as x,y,w,h: 400 / 900 = 0.444 and 400 / 2500 = 0.16, mean 0.302; as corners: 1 and 1
    assert result_problem("r/seq.txt", pred, gt) == (
        "r/seq.txt: its boxes read as corners x1,y1,x2,y2 follow the ground truth (mean IoU 1.00 over 2 frames) and "
        "read as x,y,w,h, as toolkits read result files, do not (0.30): it looks like x1,y1,x2,y2 and would score "
        "meaningless numbers; convert it: dt data xywh r/seq.txt")
    assert result_problem("r/seq.txt", gt, gt) is None                     # a real result
    assert result_problem("r/seq.txt", gt + [3, -2, 4, 1], gt) is None     # a real, imperfect one
    assert result_problem("r/seq.txt", pred[:1], gt[:1]) is None           # one frame is no evidence


def test_dt_analyze_refuses_a_corner_result_and_dt_data_xywh_fixes_it(tmp_path):
    gt = [(10, 10, 20, 20), (30, 30, 20, 20), (50, 20, 20, 20)]
    footage(tmp_path / "clips", gt)
    res = tmp_path / "res"
    res.mkdir()
    (res / "walk.txt").write_text("10\t10\t30\t30\n30\t30\t50\t50\n50\t20\t70\t40\n")
    line = one_line_error(cli("analyze", res, "--dataset", "folder", "--root", tmp_path / "clips", "-o",
                              tmp_path / "an"))
    # as x,y,w,h: 400/900, 400/2500, 400/2800 -> mean 0.249
    assert "res/walk.txt: its boxes read as corners x1,y1,x2,y2 follow the ground truth (mean IoU 1.00 over 3 " \
           "frames) and read as x,y,w,h, as toolkits read result files, do not (0.25)" in line, line
    assert f"convert it: dt data xywh {res / 'walk.txt'}" in line, line
    out = cli("data", "xywh", res / "walk.txt")
    assert out.exit_code == 0, out.output
    assert (res / "walk.txt").read_text() == "10\t10\t20\t20\n30\t30\t20\t20\n50\t20\t20\t20\n"
    assert (res / "walk.txt.xyxy").read_text() == "10\t10\t30\t30\n30\t30\t50\t50\n50\t20\t70\t40\n"
    done = cli("analyze", res, "--dataset", "folder", "--root", tmp_path / "clips", "-o", tmp_path / "an")
    assert done.exit_code == 0 and "error" not in done.output, done.output
    again = one_line_error(cli("data", "xywh", res / "walk.txt"))   # would subtract x,y twice
    assert "walk.txt.xyxy exists: " in again and (res / "walk.txt").read_text().startswith("10\t10\t20\t20\n")


def test_dt_data_xywh_keeps_separators_and_rows_without_a_box(tmp_path):
    f = tmp_path / "gt.txt"
    f.write_text("10,20,110,220\n5\t6\t7.5\t8.25\nNaN,NaN,NaN,NaN\n0,0,0,0\n120.2 3 363.7 4\n")
    out = cli("data", "xywh", f)
    assert out.exit_code == 0 and "3 rows converted" in out.output, out.output
    assert f.read_text() == "10,20,100,200\n5\t6\t2.5\t2.25\nNaN,NaN,NaN,NaN\n0,0,0,0\n120.2 3 243.5 1\n"
    g = tmp_path / "not.txt"
    g.write_text("10,20,5,220\n")   # x2 < x1: not corners
    assert "not.txt:1: x2,y2 5,220 lie before x1,y1 10,20" in one_line_error(cli("data", "xywh", g))
    assert g.read_text() == "10,20,5,220\n" and not (tmp_path / "not.txt.xyxy").exists()


@pytest.mark.parametrize("value", ["inf", "-inf", "1e400"])
def test_dt_data_xywh_refuses_an_infinite_value_and_changes_nothing(tmp_path, value):
    """An infinity is no box (NaN or 0,0,0,0 marks a frame without the target): the row was left as it was among
    converted rows, a file of corners and x,y,w,h mixed."""
    f = tmp_path / "gt.txt"
    text = f"10,20,110,220\n10,20,{value},220\n"
    f.write_text(text)
    line = one_line_error(cli("data", "xywh", f))
    assert f"gt.txt:2: an infinite value in '10,20,{value},220'" in line and "write NaN" in line, line
    assert f.read_text() == text and not (tmp_path / "gt.txt.xyxy").exists()


def test_dt_data_xywh_keeps_the_files_mode(tmp_path):
    f = tmp_path / "gt.txt"
    f.write_text("10,20,110,220\n")
    f.chmod(0o444)
    assert cli("data", "xywh", f).exit_code == 0
    assert f.read_text() == "10,20,100,200\n"
    assert oct(f.stat().st_mode & 0o777) == oct(0o444) == oct((tmp_path / "gt.txt.xyxy").stat().st_mode & 0o777)


def test_dt_data_xywh_killed_after_keeping_the_original_converts_on_the_rerun(tmp_path):
    """A conversion killed between writing FILE.xyxy and rewriting FILE leaves two equal files: the rerun converts
    (refusing it as 'converted already' would leave the corners in place for good)."""
    f = tmp_path / "gt.txt"
    f.write_text("10,20,110,220\n")
    (tmp_path / "gt.txt.xyxy").write_text("10,20,110,220\n")
    out = cli("data", "xywh", f)
    assert out.exit_code == 0 and "1 row converted" in out.output, out.output
    assert f.read_text() == "10,20,100,200\n" and (tmp_path / "gt.txt.xyxy").read_text() == "10,20,110,220\n"


def test_dt_data_xywh_keeps_the_original_byte_for_byte_with_its_bom_and_line_ends(tmp_path):
    f = tmp_path / "gt.txt"   # a Windows editor's file: BOM, CRLF; a lone CR ends the last row
    raw = b"\xef\xbb\xbf10,20,110,220\r\n\r\n5\t6\t7.5\t8.25\r"
    f.write_bytes(raw)
    out = cli("data", "xywh", f)
    assert out.exit_code == 0 and "2 rows converted" in out.output, out.output
    assert (tmp_path / "gt.txt.xyxy").read_bytes() == raw
    assert f.read_bytes() == b"\xef\xbb\xbf10,20,100,200\r\n\r\n5\t6\t2.5\t2.25\r"


@pytest.mark.parametrize("name", [".", "./", "/"])
def test_dt_data_xywh_on_a_folder_with_no_name_is_one_line(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)   # it was a ValueError traceback ("has an empty name")
    assert "is not a file" in one_line_error(cli("data", "xywh", name))


def test_dt_data_xywh_refuses_a_link_and_names_its_file(tmp_path):
    target = tmp_path / "boxes.txt"
    target.write_text("10,20,110,220\n")
    (tmp_path / "link.txt").symlink_to(target)   # rewriting the link replaced it by a file; the target kept corners
    line = one_line_error(cli("data", "xywh", tmp_path / "link.txt"))
    assert "symbolic link to" in line and str(target) in line
    assert (tmp_path / "link.txt").is_symlink() and target.read_text() == "10,20,110,220\n"


def test_dt_data_xywh_reads_the_separators_the_readers_read(tmp_path):
    """Semicolons: the readers take '150;100;300;220' and their warning names dt data xywh, which refused the row."""
    f = tmp_path / "gt.txt"
    f.write_text("150;100;300;220\n151;100;301;220\n")
    res = cli("data", "xywh", f)
    assert res.exit_code == 0, res.output
    assert f.read_text() == "150;100;150;120\n151;100;150;120\n"   # hand-computed: 300-150, 220-100


@pytest.mark.parametrize("row, why", [
    ("10,,20,30,40", "an empty field between two separators ('10,,20,30,40')"),   # the readers refuse it too
    ("-1e308,0,1e308,1", "the box '-1e308,0,1e308,1' is wider or higher than a float holds"),   # w overflowed: inf
])
def test_dt_data_xywh_refuses_rows_it_would_convert_wrong(tmp_path, row, why):
    """An empty field was dropped, so 30,40 were read as x2,y2 (written as 10,,20,20,20); an overflowing width was
    written as inf, which every reader then refused. Both are refused; nothing changes."""
    f = tmp_path / "gt.txt"
    f.write_text(f"1,2,3,4\n{row}\n")
    line = one_line_error(cli("data", "xywh", f))
    assert line.startswith(f"error: {f}:2: {why}") and line.endswith("nothing was changed"), line
    assert f.read_text() == f"1,2,3,4\n{row}\n" and not (tmp_path / "gt.txt.xyxy").exists()


@pytest.mark.parametrize("kind", ["pipe", "folder"])
def test_dt_data_xywh_with_a_pipe_or_folder_at_the_originals_name_is_refused(tmp_path, kind):
    """A named pipe at FILE.xyxy was read to compare it with FILE: the run never ended."""
    import os

    f = tmp_path / "gt.txt"
    f.write_text("1,2,3,4\n")
    backup = tmp_path / "gt.txt.xyxy"
    os.mkfifo(backup) if kind == "pipe" else backup.mkdir()
    line = one_line_error(cli("data", "xywh", f))
    assert line == (f"error: {backup} is in the way of gt.txt's original (a folder, link or pipe, not the file dt data "
                    "xywh writes); move it away; nothing was changed")
    assert f.read_text() == "1,2,3,4\n"


def test_dt_data_xywh_on_a_results_folder_leaves_its_frame_times(tmp_path):
    """`dt data xywh results/mytracker/*.txt` (its help's example) refused the folder: NAME_time.txt holds one number
    a row. Among several files the times files are named and left alone; given alone they are refused."""
    (tmp_path / "a.txt").write_text("1,2,3,5\n")
    (tmp_path / "a_time.txt").write_text("0.01\n")
    res = cli("data", "xywh", tmp_path / "a.txt", tmp_path / "a_time.txt")
    assert res.exit_code == 0, res.output
    assert f"{tmp_path / 'a_time.txt'}: a tracker's frame times (NAME_time.txt), not boxes; left as it is" in res.output
    assert (tmp_path / "a.txt").read_text() == "1,2,2,3\n" and (tmp_path / "a_time.txt").read_text() == "0.01\n"
    (tmp_path / "b_time.txt").write_text("0.02\n")
    line = one_line_error(cli("data", "xywh", tmp_path / "a_time.txt", tmp_path / "b_time.txt"))
    assert line.startswith("error: the 2 files given are all frame times")
