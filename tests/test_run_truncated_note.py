"""The note on a video file that ends before its header's count: a file cut short was called one that 'stores fewer
frames than its rate (a variable frame rate...)' when --start N moved its first frame (the times were taken from 0)
or a frame was lost at the cut, and --max-frames was given as the header's count."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import cli, square_avi

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")


@pytest.fixture
def cut_avi(tmp_path) -> Path:
    """A 30-frame MJPG AVI at 10 FPS cut to its first half: 9 frames decode (0.0 .. 0.8 s), the header says 30."""
    path = square_avi(tmp_path / "cut.avi", 30)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    cap = cv2.VideoCapture(str(path))
    if cap.get(cv2.CAP_PROP_FRAME_COUNT) != 30:
        pytest.skip("this OpenCV build counts an AVI's frames otherwise")
    return path


def _run(cut_avi: Path, ckpt: Path, *extra) -> str:
    res = cli("run", cut_avi, "-m", ckpt, "--device", "cpu", "--init", "10,10,20,20", "-o",
              cut_avi.with_suffix(".txt"), *extra)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("start, frames", [(0, 9), (3, 6)])
def test_a_file_cut_short_is_called_so(cut_avi, tiny_ckpt, start, frames):
    out = _run(cut_avi, tiny_ckpt, "--start", start)
    assert f"ended after {frames} of the {30 - start} frames its header announces (a truncated" in out, out
    assert "stores fewer frames" not in out


def test_max_frames_is_not_the_headers_count(cut_avi, tiny_ckpt):
    out = _run(cut_avi, tiny_ckpt, "--max-frames", 20)
    assert "ended after 9 of the 30 frames its header announces" in out, out


@pytest.mark.parametrize("frames, expected, fps, first_s, last_s, stored", [
    (68, 444, 15.0, 0.0, 29.533, True),    # opencv-doc's tree.avi: dropped (null) frames, times run to the end
    (4, 12, 10.0, 0.0, 0.9, True),         # 4 frames each stored once for 3 frame times (the last two trail)
    (69, 100, 25.0, 0.0, 2.76, False),     # an H.264 MP4 cut at 60 %: one frame lost at the cut, 31 missing
    (6, 27, 10.0, 0.3, 0.8, False),        # the cut AVI above from --start 3
])
def test_stored_or_cut_short(frames, expected, fps, first_s, last_s, stored):
    from droptrack.videofiles import fewer_frames_stored

    assert (fewer_frames_stored("v", frames, expected, fps, last_s, first_s) is not None) == stored


def test_a_file_storing_fewer_frames_is_called_so_from_a_late_start():
    """opencv-doc's tree.avi (68 frames stored over 29.5 s, a header of 444 at 15 FPS) from --start 67: one frame
    tracked at 29.47 s was called 'ended after 1 of the 377 frames ... (a truncated or damaged file?)'."""
    from droptrack.runtime.loop import RunSummary
    from droptrack.runtime.report import ended_early_note

    s = RunSummary(frames=1, expected=377, announced=377, source_fps=15.0, first_timestamp=29.467,
                   last_timestamp=29.467, start=67)
    note = ended_early_note(s)
    assert note is not None and "gave 68 frames, not the 444 its header counts" in note, note
    assert "truncated" not in note
