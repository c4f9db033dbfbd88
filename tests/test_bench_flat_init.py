"""dt bench --data Megamind.avi --init X,Y,W,H benched every row on a box set on the clip's black first frame without a
word (dt run warns about such a box): the rows tracked nothing, and the gates judged that. It now gives the same
warning line, with the fix dt bench has (it starts at the first frame: cut the frames before)."""

from __future__ import annotations

import pytest

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

from helpers import cli, drifting_clip  # noqa: E402


def _clip(folder, black_first: bool):
    folder.mkdir()
    drifting_clip(folder, 4)
    if black_first:
        cv2.imwrite(str(folder / "00000.png"), np.zeros((72, 96, 3), np.uint8))
    return folder


@pytest.mark.parametrize("black_first", [True, False])
def test_a_box_on_a_black_first_frame_is_warned_about(tmp_path, black_first):
    clip = _clip(tmp_path / "clip", black_first)
    res = cli("bench", "--tracker", "kcf", "--data", clip, "--init", "30,22,26,20", "-o", tmp_path / "bench")
    assert res.exit_code == 0, res.output
    said = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert said == ([
        "warning: clip: the box 30,22,26,20 on frame 0 is all one colour (level 0: a black, blank or fading-in "
        "frame?), so the tracker has no target to follow; dt bench starts at the first frame: cut the frames before "
        "one that shows the target (a video: `ffmpeg -ss SECONDS -i IN -c:v mpeg4 -q:v 2 OUT.mp4`; a folder: move "
        "them out)"] if black_first else []), res.output


@pytest.mark.parametrize("command", ["eval", "bench"])
@pytest.mark.parametrize("black_first", [True, False])
def test_a_first_box_from_ones_own_box_file_on_a_black_frame_is_warned_about(tmp_path, command, black_first):
    """The same box given in the folder's groundtruth.txt (dt eval --dataset folder, dt bench --data FOLDER without
    --init) was tracked and scored without a word."""
    clip = _clip(tmp_path / "clip", black_first)
    (clip / "groundtruth.txt").write_text("30,22,26,20\n")
    args = (["eval", "--dataset", "folder", "--root", clip] if command == "eval" else ["bench", "--data", clip])
    res = cli(*args, "--tracker", "kcf", "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    said = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert said == ([
        "warning: clip: the box 30,22,26,20 on frame 0 is all one colour (level 0: a black, blank or fading-in "
        f"frame?), so the tracker has no target to follow; dt {command} starts at the first frame: cut the frames "
        "before one that shows the target (a video: `ffmpeg -ss SECONDS -i IN -c:v mpeg4 -q:v 2 OUT.mp4`; a folder: "
        "move them out)"] if black_first else []), res.output
