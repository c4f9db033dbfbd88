"""An MP4 cut off before its end (a recording stopped abruptly, a copy or download interrupted) has no index: its
'moov' box is written last. OpenCV cannot open it, and neither can ffmpeg, so the old advice to convert it with
ffmpeg could not work; the error now says the file is cut off and what helps."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import cli, one_line_error

from droptrack.data import get_sequences
from droptrack.errors import DatasetError


def mp4(path: Path, frames: int = 12) -> Path:
    """An MPEG-4 Part 2 .mp4 as OpenCV writes it (its 'moov' index after the frames, as phones and cameras do)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    if not w.isOpened():
        pytest.skip("this OpenCV build writes no mp4v .mp4")
    rng = np.random.default_rng(0)
    for _ in range(frames):
        w.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    w.release()
    return path


def cut(full: Path, name: str, fraction: float = 0.6) -> Path:
    """The first `fraction` of a file's bytes, as an interrupted copy leaves it."""
    out = full.with_name(name)
    out.write_bytes(full.read_bytes()[: int(full.stat().st_size * fraction)])
    return out


def test_run_names_a_cut_off_mp4_and_does_not_suggest_converting_it(tiny_ckpt, tmp_path):
    video = cut(mp4(tmp_path / "full.mp4"), "clip.mp4")
    assert not cv2.VideoCapture(str(video)).isOpened()
    line = one_line_error(cli("run", video, "-m", tiny_ckpt, "--init", "10,10,20,20"))
    assert "'moov' box" in line and "cut off" in line and "ffmpeg -i" not in line, line


def test_dataset_readers_name_a_cut_off_mp4(tmp_path):
    video = cut(mp4(tmp_path / "full.mp4"), "clip.mp4")
    with pytest.raises(DatasetError, match="'moov' box"):   # no ground truth: the frames are counted
        get_sequences("video", video)
    video.with_suffix(".txt").write_text("10,10,20,20\n" * 12)   # with ground truth: its rows are checked against
    with pytest.raises(DatasetError, match="'moov' box"):   # the frames, so it is named before any is tracked
        get_sequences("video", video)


def test_only_a_file_without_its_index_is_called_cut_off(tmp_path):
    from droptrack.videofiles import unopened_reason

    full = mp4(tmp_path / "full.mp4")
    assert unopened_reason(full) is None   # a whole MP4
    avi = tmp_path / "clip.avi"   # a cut-off AVI still opens (no index needed); it is no MP4 either way
    w = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(4):
        w.write(np.zeros((48, 64, 3), np.uint8))
    w.release()
    assert unopened_reason(cut(avi, "cut.avi")) is None
    assert unopened_reason(tmp_path / "missing.mp4") is None and unopened_reason(tmp_path) is None
    head = tmp_path / "head.mp4"   # its first 40 bytes: the 'ftyp' box and the start of the next
    head.write_bytes(full.read_bytes()[:40])
    assert unopened_reason(head) is not None


def test_an_empty_file_or_one_of_another_kind_is_not_sent_to_ffmpeg(tmp_path, tiny_ckpt):
    empty = tmp_path / "clip.mp4"
    empty.write_bytes(b"")
    line = one_line_error(cli("run", empty, "-m", tiny_ckpt, "--init", "10,10,20,20"))
    assert "it is empty (0 bytes)" in line and "ffmpeg -i" not in line, line
    notes = tmp_path / "groundtruth.txt"   # a box file passed where the video goes
    notes.write_text("10,10,20,20\n")
    line = one_line_error(cli("run", notes, "-m", tiny_ckpt, "--init", "10,10,20,20"))
    assert "'.txt' is no video extension" in line and "ffmpeg -i" not in line, line
