"""--save of a video file whose frames are stored at uneven times (a variable frame rate, or repeated frames stored
once, as Debian opencv-doc's tree.avi: 68 stored frames over 29.5 s, header 444 at 15 FPS) writes each frame again
until the next one's time, so the saved video plays as long as the source (it played 4.5 s); a live source or a
folder still gets one video frame per frame."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.runtime.sinks import VideoSink
from droptrack.runtime.sources import Frame
from helpers import cli

TREE = Path("/usr/share/doc/opencv-doc/examples/data/tree.avi")


def levels(path: Path) -> list[int]:
    """The mean gray level of every frame of a video, rounded to tens (the test frames are flat)."""
    cap, out = cv2.VideoCapture(str(path)), []
    while True:
        ok, img = cap.read()
        if not ok:
            return out
        out.append(int(round(img.mean() / 10) * 10))


@pytest.mark.parametrize("timed", [True, False])
def test_a_frame_is_held_until_the_next_ones_time(tmp_path, timed):
    sink = VideoSink(tmp_path / "out.avi", 10.0, timed=timed)
    for i, t in enumerate([2.0, 2.1, 2.5, 2.6]):   # media times: the third frame shows 0.4 s after the second
        sink.write(Frame(i, t, np.full((120, 160, 3), 50 * (i + 1), np.uint8)), [])
    sink.close()
    # at 10 FPS: 0.0 s -> A, 0.1 -> B, 0.2-0.4 -> B again, 0.5 -> C, 0.6 -> D
    assert levels(tmp_path / "out.avi") == ([50, 100, 100, 100, 100, 150, 200] if timed else [50, 100, 150, 200])


@pytest.mark.skipif(not TREE.is_file(), reason="needs Debian's opencv-doc (tree.avi)")
def test_tree_avi_saved_plays_as_long_as_the_source(tiny_ckpt, tmp_path):
    shutil.copy(TREE, tmp_path / "tree.avi")
    r = cli("run", tmp_path / "tree.avi", "-m", tiny_ckpt, "--device", "cpu", "--init", "100,50,40,80", "--save",
            tmp_path / "out.avi")
    assert r.exit_code == 0, r.output
    cap = cv2.VideoCapture(str(tmp_path / "out.avi"))
    frames, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
    assert fps == pytest.approx(15, abs=0.01) and 29 < frames / fps < 30   # 444 frames at 15 FPS: 29.6 s


@pytest.mark.parametrize("ext", [".mp4", ".avi"])
def test_an_odd_frame_size_is_saved_whole_with_one_black_column_and_row(tmp_path, ext):
    """A 719x527 source was saved as 718x526 in every container: OpenCV's writer rounds an odd side down and
    rescales each frame. It is now padded: every source pixel at its place, one black column and row added."""
    yy, xx = np.mgrid[0:527, 0:719]
    image = np.stack([xx * 255 // 718, yy * 255 // 526, np.full_like(xx, 128)], -1).astype(np.uint8)   # smooth
    sink = VideoSink(tmp_path / f"odd{ext}", 10.0)
    for i in range(3):
        sink.write(Frame(i, i / 10, image), [])
    sink.close()
    cap = cv2.VideoCapture(str(tmp_path / f"odd{ext}"))
    ok, got = cap.read()
    assert ok and got.shape == (528, 720, 3)
    error = np.abs(cv2.cvtColor(got, cv2.COLOR_BGR2RGB)[:527, :719].astype(int) - image).mean()
    assert error < 4, error                            # in place (a 1-px rescale moves the gradient by ~0.5 level/px)
    assert got[527, :700].mean() < 40 and got[:500, 719].mean() < 40   # the pad is black (codec ringing aside)
