"""--save of a video file with a passage faster than the video's rate (a variable frame rate: OpenCV reads the
average): its frames were all written, each early one putting the video further behind, so a fast end left the video
longer than its source (2 s at 10 FPS then 2 s at 30 FPS, 4 s, was saved as 5.1 s). A frame due more than one video
frame before the next free place is now left out (counted in a note), and the video plays as long as the source."""

from __future__ import annotations

import shutil
import subprocess

import cv2
import numpy as np
import pytest

from droptrack.runtime.sinks import VideoSink
from droptrack.runtime.sources import Frame
from helpers import cli


def frame_count(path) -> int:
    """The frames a video decodes to (not its header's count)."""
    cap, n = cv2.VideoCapture(str(path)), 0
    while cap.read()[0]:
        n += 1
    return n


def test_a_fast_end_is_thinned_to_the_videos_rate(tmp_path):
    sink = VideoSink(tmp_path / "out.avi", 10.0, timed=True)
    times = [i / 10 for i in range(10)] + [1 + i / 30 for i in range(30)]   # 1 s at 10 FPS, 1 s at 30 FPS
    for i, t in enumerate(times):
        sink.write(Frame(i, t, np.full((64, 64, 3), i * 6, np.uint8)), [])
    sink.close()
    # the last frame's place is 1.97 s * 10 FPS = 20: 21 frames, at most one more (all 40 written: 4 s)
    assert 20 <= frame_count(tmp_path / "out.avi") <= 22
    assert sink.left_out == 40 - sink.written


def test_frames_on_time_or_one_frame_early_are_all_kept(tmp_path):
    sink = VideoSink(tmp_path / "out.avi", 10.0, timed=True)
    for i, t in enumerate([0.0, 0.1, 0.16, 0.3, 0.38, 0.5]):   # jitter of less than a frame: nothing left out
        sink.write(Frame(i, t, np.full((64, 64, 3), 40 * i, np.uint8)), [])
    sink.close()
    assert sink.left_out == 0 and frame_count(tmp_path / "out.avi") == 6


def test_a_folder_or_live_source_keeps_one_video_frame_per_frame(tmp_path):
    sink = VideoSink(tmp_path / "out.avi", 10.0, timed=False)
    for i in range(12):
        sink.write(Frame(i, i / 30, np.full((64, 64, 3), 20 * i, np.uint8)), [])
    sink.close()
    assert sink.left_out == 0 and frame_count(tmp_path / "out.avi") == 12


def test_vfr_mp4_with_a_fast_end_saved_as_long_as_the_source(tiny_ckpt, tmp_path):
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg is not installed")
    src = tmp_path / "vfr.mp4"   # 4 s of 30 FPS frames, every third one kept in the first 2 s: 80 frames
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=160x120:rate=30", "-t", "4", "-vf", r"select='if(lt(t\,2)\,not(mod(n\,3))\,1)'",
                    "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", str(src)], check=True, timeout=60)
    times = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=pts_time", "-of", "csv=p=0", str(src)],
                           capture_output=True, text=True, check=True, timeout=60).stdout.split()
    gaps = np.diff(sorted(float(t) for t in times))
    assert gaps.max() > 0.09 and gaps.min() < 0.04   # really variable: 0.1 s then 1/30 s
    r = cli("run", src, "-m", tiny_ckpt, "--device", "cpu", "--init", "40,30,40,40", "--save", tmp_path / "out.mp4")
    assert r.exit_code == 0, r.output
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    fps, n = cap.get(cv2.CAP_PROP_FPS), frame_count(tmp_path / "out.mp4")
    assert 3.8 < n / fps < 4.3, (n, fps)   # the source's 4 s (every frame written: 99 frames at 19.35 FPS, 5.1 s)
    assert "not in the --save video, so it plays as long as the source" in r.output, r.output
