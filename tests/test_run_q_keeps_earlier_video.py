"""q in dt run's --show window, on a --save-only run with --overwrite over an earlier video: the run did not finish,
so the earlier video stays as it was and the new frames stay in NAME.part.EXT; the stop said nothing about either
(its note was only printed where a resume journal was left, and --save alone keeps none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import cli, square_avi

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")


@pytest.fixture
def clip(tmp_path) -> Path:
    return square_avi(tmp_path / "clip.avi", 6)


@pytest.fixture
def q_on_third_frame(monkeypatch):
    """A headless OpenCV has no window: its four GUI calls answer as a window where q is pressed on frame 2."""
    import droptrack.runtime.run as run_module
    import droptrack.runtime.window as window_module

    keys = iter([-1, -1, ord("q")])
    monkeypatch.setattr(run_module, "display_problem", lambda: None)
    monkeypatch.setattr(window_module, "display_problem", lambda: None)
    monkeypatch.setattr(cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "imshow", lambda *a: None)
    monkeypatch.setattr(cv2, "destroyWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "waitKey", lambda *a: next(keys, ord("q")))


def test_q_says_the_earlier_video_was_kept(clip, tiny_ckpt, tmp_path, q_on_third_frame):
    video = tmp_path / "v.mp4"
    earlier = b"an earlier run's video"
    video.write_bytes(earlier)
    res = cli("run", clip, "-m", tiny_ckpt, "--init", "10,10,20,20", "--save", video, "--overwrite", "--show")
    assert res.exit_code == 0, res.output
    assert video.read_bytes() == earlier
    part = tmp_path / "v.part.mp4"
    assert cv2.VideoCapture(str(part)).get(cv2.CAP_PROP_FRAME_COUNT) == 3   # frames 0, 1, 2 were shown
    assert (f"note: stopped from the window after 3 frames; the new run's unfinished outputs stay in {part} (the "
            f"earlier {video} kept as it was)") in res.output
