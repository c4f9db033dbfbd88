"""`dt eval --dataset video` (a clip and its CLIP.txt of x,y,w,h rows): a video with more frames than box rows was
scored on the first rows' frames without a word (8 of 12 frames), while fewer frames than rows failed only after
the clip was tracked. Both are refused before any work, naming the counts and the fix, as the image-folder reader
refuses more images than rows; a count that matches is scored as before."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from helpers import cli, one_line_error


def _clip(folder, frames: int, rows: int):
    """A 64x48 mp4v clip of a square drifting one pixel a frame, and `rows` box rows of it in clip.txt."""
    folder.mkdir()
    w = cv2.VideoWriter(str(folder / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    if not w.isOpened():
        pytest.skip("this OpenCV build writes no mp4v .mp4")
    for i in range(frames):
        f = np.full((48, 64, 3), 40, np.uint8)
        f[10 + i:30 + i, 10 + i:30 + i] = 220
        w.write(f)
    w.release()
    (folder / "clip.txt").write_text("".join(f"{10 + i},{10 + i},20,20\n" for i in range(rows)))
    return folder / "clip.mp4"


def _eval(clip, out):
    return cli("eval", "--dataset", "video", "--root", clip, "--tracker", "kcf", "--output", out)


def test_more_frames_than_rows_is_refused_before_any_work(tmp_path):
    clip = _clip(tmp_path / "v", 12, 8)
    res = _eval(clip, tmp_path / "out")
    assert res.exit_code == 2
    assert one_line_error(res) == (
        f"error: {clip} has 12 frames but {clip.with_suffix('.txt')} has 8 box rows (one per frame, in frame order "
        "from the first); add the 4 missing rows (NaN,NaN,NaN,NaN or 0,0,0,0 where the frame has no box), or cut the "
        "video to its first 8 frames")
    assert not (tmp_path / "out").exists()   # nothing tracked or written


def test_fewer_frames_than_rows_is_refused_before_any_work(tmp_path):
    clip = _clip(tmp_path / "v", 12, 15)
    res = _eval(clip, tmp_path / "out")
    assert res.exit_code == 2
    assert one_line_error(res) == (
        f"error: {clip} has 12 frames but {clip.with_suffix('.txt')} has 15 box rows (one per frame); trim clip.txt "
        "to its first 12 rows, or re-encode the video if frames are missing")
    assert not (tmp_path / "out").exists()


def test_one_row_per_frame_is_scored(tmp_path):
    clip = _clip(tmp_path / "v", 12, 12)
    res = _eval(clip, tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "out" / "kcf" / "clip.txt").read_text().splitlines()) == 12
