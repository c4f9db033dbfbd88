"""A box file given where a video goes: FFmpeg's tty demuxer opens a text file of a few hundred bytes or more (a
groundtruth.txt of 40 rows) and draws its characters as frames, so `dt run groundtruth.txt --init ...` tracked
pictures of digits and exited 0. Only short files failed to open and were named as no video."""

from __future__ import annotations

from pathlib import Path

import cv2
from helpers import cli, one_line_error


def box_file(path: Path, rows: int = 40) -> Path:
    """A ground-truth file as a dataset or `dt run -o` writes it: `rows` lines of x,y,w,h."""
    path.write_text("".join(f"{10 + i},{20 + i},30,40\n" for i in range(rows)))
    return path


def test_run_refuses_a_box_file_that_ffmpeg_opens_as_a_video(tmp_path, tiny_ckpt):
    gt = box_file(tmp_path / "groundtruth.txt")
    assert cv2.VideoCapture(str(gt)).isOpened()   # the case: OpenCV's FFmpeg reads it as frames of text
    line = one_line_error(cli("run", gt, "-m", tiny_ckpt, "--init", "10,20,30,40"))
    assert line.startswith(f"error: '{gt}' is a text file, not a video") and "folder of frames" in line, line


def test_run_refuses_other_text_files_ffmpeg_draws(tmp_path, tiny_ckpt):
    notes = box_file(tmp_path / "readme.nfo")   # the tty demuxer's other names (.nfo, .asc, .ans, ...)
    assert cv2.VideoCapture(str(notes)).isOpened()
    line = one_line_error(cli("run", notes, "-m", tiny_ckpt, "--init", "10,20,30,40"))
    assert "is a text file, not a video" in line, line


def test_a_real_video_still_runs(tmp_path, tiny_ckpt, video):
    result = cli("run", video, "-m", tiny_ckpt, "--init", "60,40,40,50", "--max-frames", "2",
                 "-o", tmp_path / "boxes.txt")
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "boxes.txt").read_text().splitlines()) == 2


def test_eval_refuses_a_box_file_as_the_video_root_without_advice_to_trim_it(tmp_path, tiny_ckpt):
    """`dt eval --dataset video --root clip.txt` read the box file as a clip of a few frames of text and said to
    trim clip.txt to that many rows: following it would have destroyed the ground truth."""
    gt = box_file(tmp_path / "clip.txt")
    assert cv2.VideoCapture(str(gt)).isOpened()
    before = gt.read_bytes()
    line = one_line_error(cli("eval", "--dataset", "video", "--root", gt, "-m", tiny_ckpt,
                              "-o", tmp_path / "results"))
    assert line.startswith(f"error: '{gt}' is a text file, not a video") and "trim" not in line, line
    assert gt.read_bytes() == before and not (tmp_path / "results").exists()


def test_the_video_dataset_still_reads_a_real_clip(tmp_path, video):
    from droptrack.data import get_sequences

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(video.read_bytes())
    frames = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    box_file(tmp_path / "clip.txt", rows=frames)
    (seq,) = get_sequences("video", clip)
    assert len(seq) == frames and tuple(seq.boxes[0]) == (10, 20, 30, 40)
