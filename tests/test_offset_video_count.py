"""A Matroska/WebM video whose stream starts after time 0 (a cut from a longer recording; `ffmpeg
-output_ts_offset 5`) was called 'truncated or damaged?' by dt run, and a ShortVideoWarning by the dataset reader:
OpenCV counts its frames as the header's duration x rate, and that duration runs from time 0 (8 s for 3 s of frames
at 10 FPS: 80 frames, 30 stored). The frames before the first one are no longer counted; a file really cut short
still gets its note, counted from its first frame."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from droptrack.data.folder import read_video
from droptrack.videofiles import ShortVideoWarning
from helpers import cli

cv2 = pytest.importorskip("cv2")
FRAMES = 30   # 3 s at 10 FPS, as ffmpeg writes them
INIT = "20,20,40,40"


def _video(path: Path, offset: float = 0.0) -> Path:
    """3 s of ffmpeg's test pattern at 10 FPS, its first frame at `offset` seconds."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "3",
                    "-output_ts_offset", str(offset), str(path)], check=True, timeout=120)
    return path


def _cut(path: Path) -> int:
    """`path` cut to 60 % of its bytes; the frames that still decode."""
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 6 // 10])
    cap, n = cv2.VideoCapture(str(path)), 0
    while cap.read()[0]:
        n += 1
    assert 0 < n < FRAMES
    return n


def _run(video: Path, ckpt: Path, *extra) -> str:
    r = cli("run", video, "-m", ckpt, "--device", "cpu", "--init", INIT, "-o", video.with_suffix(".txt"), *extra)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("suffix", [".mkv", ".webm"])
def test_a_stream_starting_later_is_not_called_truncated(tmp_path, tiny_ckpt, suffix):
    video = _video(tmp_path / f"late{suffix}", offset=5)
    if cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT) == FRAMES:
        pytest.skip("this OpenCV/FFmpeg counts the frames from the first one already")
    out = _run(video, tiny_ckpt)
    assert "truncated" not in out and "ended after" not in out, out
    assert video.with_suffix(".txt").read_text().count("\n") == FRAMES


@pytest.mark.parametrize("offset", [0, 5])
def test_a_file_cut_short_is_still_called_so_counted_from_its_first_frame(tmp_path, tiny_ckpt, offset):
    video = _video(tmp_path / "cut.mkv", offset)
    decoded = _cut(video)
    out = _run(video, tiny_ckpt)
    assert f"the source ended after {decoded} of the {FRAMES} frames its header announces (a truncated" in out, out


def test_start_past_the_end_of_a_stream_starting_later_is_refused_with_its_count(tmp_path, tiny_ckpt):
    video = _video(tmp_path / "late.mkv", offset=5)
    r = cli("run", video, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, "-o", tmp_path / "b.txt",
            "--start", "35")
    assert r.exit_code == 2 and f"has {FRAMES} frames" in r.output, r.output


def test_the_dataset_reader_counts_a_stream_starting_later_without_a_warning(tmp_path):
    video = _video(tmp_path / "late.mkv", offset=5)
    video.with_suffix(".txt").write_text(INIT + "\n")   # the init box alone: rows up to the frames stored
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortVideoWarning)
        seq = read_video(video, None, None)[0]
    assert len(seq) == FRAMES
