"""`dt run Megamind.avi --jsonl` gave its last frame the time 0.0 after 11.22 s: OpenCV reports 0 for a frame whose
packet carries no time (the decoder's last, delayed frame of this MPEG-4 AVI; ffprobe shows its time as N/A), and
`--loop` took that 0 as the end of the pass, so the second pass's times ran 11.2 s backwards, over the first's. Such a
frame's time is now the previous frame's plus one frame at the file's rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import cli

cv2 = pytest.importorskip("cv2")
MEGAMIND = Path("/usr/share/doc/opencv-doc/examples/data/Megamind.avi")   # 270 frames at 23.976 FPS


def _times(path: Path) -> list[float]:
    return [json.loads(line)["timestamp"] for line in path.read_text().splitlines()]


@pytest.fixture
def megamind() -> Path:
    if not MEGAMIND.is_file():
        pytest.skip("opencv-doc's Megamind.avi is not installed")
    return MEGAMIND


def _fps(path: Path) -> float:
    cap = cv2.VideoCapture(str(path))
    try:
        return cap.get(cv2.CAP_PROP_FPS)
    finally:
        cap.release()


def test_the_last_frame_of_an_avi_keeps_time_after_the_one_before(megamind, tmp_path, one_thread):
    out = tmp_path / "t.jsonl"
    res = cli("run", megamind, "--init", "250,160,170,220", "--start", "262", "--jsonl", out, "--threads", "1")
    assert res.exit_code == 0, res.output
    times = _times(out)
    assert len(times) == 8   # frames 262..269
    step = 1.0 / _fps(megamind)
    assert all(b - a == pytest.approx(step, abs=1e-5) for a, b in zip(times, times[1:])), times


def test_loop_passes_follow_each_other_in_time(megamind, tmp_path, one_thread):
    out = tmp_path / "loop.jsonl"
    res = cli("run", megamind, "--init", "250,160,170,220", "--loop", "--max-frames", "274", "--jsonl", out,
              "--threads", "1", "--scale-search", "off")
    assert res.exit_code == 0, res.output
    times = _times(out)
    assert len(times) == 274
    assert all(b > a for a, b in zip(times, times[1:])), [(i, t) for i, t in enumerate(times)][265:]
    step = 1.0 / _fps(megamind)
    # the second pass starts one frame after the first pass's last frame, one frame after frame 268
    assert times[270] - times[268] == pytest.approx(3 * step, abs=1e-4)
