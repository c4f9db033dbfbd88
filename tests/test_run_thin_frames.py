"""A video 1 pixel high (or wide) was refused as 'box [5.0, 0.0, 10.0, 1.0] lies outside the 64x1 image' for a box
that lies inside it: the official crop leaves out the last row and column it reaches, so nothing is left of a
1-pixel frame. The error now says what is wrong with the frames and how to scale them up; 2 pixels track."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import cli, one_line_error

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")


def _video(path: Path, w: int, h: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    for i in range(6):
        img = np.full((h, w, 3), 40, np.uint8)
        img[:, (5 + i) % w] = 200
        writer.write(img)
    writer.release()
    return path


@pytest.mark.parametrize("w, h, box", [(64, 1, "5,0,10,1"), (1, 64, "0,5,1,10")])
def test_a_one_pixel_frame_is_named_not_the_box(tiny_ckpt, tmp_path, w, h, box):
    out = tmp_path / "b.txt"
    line = one_line_error(cli("run", _video(tmp_path / "thin.avi", w, h), "-m", tiny_ckpt, "--device", "cpu",
                              "--init", box, "-o", out))
    assert f"frame 0 is {w}x{h} pixels" in line and "at least 2 pixels" in line and "outside" not in line
    assert not out.exists() and not (tmp_path / "b.txt.part").exists()


def test_two_pixels_high_track(tiny_ckpt, tmp_path):
    out = tmp_path / "b.txt"
    res = cli("run", _video(tmp_path / "thin.avi", 64, 2), "-m", tiny_ckpt, "--device", "cpu", "--init",
              "5,0,10,2", "-o", out)
    assert res.exit_code == 0, res.output
    assert len(out.read_text().splitlines()) == 6
