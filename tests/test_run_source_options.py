"""`dt run` options for one kind of source given another were ignored without a word (--reconnect,
--reconnect-timeout and --every-frame on a video file or image folder), or failed on something else (--loop on a
camera tried to open it; --start on a photo said it 'has 1 frames'): one line naming the option and the fix, exit 2,
nothing written."""

from __future__ import annotations

import os

import pytest

from helpers import cli, one_line_error

from droptrack.data.media import bundled_video


@pytest.fixture
def sources(tmp_path):
    import cv2
    import numpy as np

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.full((48, 64, 3), 90, np.uint8))
    return {"folder": folder, "video": bundled_video("carphone_pristine.mp4"), "photo": photo,
            "camera": "camera57", "stream": "rtsp://127.0.0.1:9/cam"}


@pytest.mark.parametrize("kind, extra, says", [
    ("folder", ["--reconnect", 3], "--reconnect is for cameras, pipelines and streams; "),
    ("video", ["--reconnect-timeout", 5], "--reconnect-timeout is for cameras, pipelines and streams; "),
    ("folder", ["--every-frame"], "--every-frame is for cameras, pipelines and streams; "),
    ("video", ["--every-frame", "--reconnect", 2], "drop --reconnect and --every-frame"),
    ("camera", ["--loop"], "--loop replays a video file or image folder from its start; 'camera57' is a live camera"),
    ("stream", ["--loop"], "is a live stream: drop --loop"),
    ("photo", ["--start", 1], "is a single photo, one frame: drop --start"),
    ("photo", ["--reconnect", 2], "is a single photo, one still frame: drop --reconnect"),   # was 'a video file'
    ("photo", ["--every-frame"], "is a single photo, one still frame: drop --every-frame"),
])
def test_an_option_for_another_kind_of_source_is_one_line(sources, tmp_path, kind, extra, says):
    out = tmp_path / "out"
    line = one_line_error(cli("run", sources[kind], "--init", "1,1,4,4", "-o", out / "b.txt", *extra))
    assert says in line
    if kind in ("folder", "video") and "--loop" not in extra:
        assert "read frame by frame until it ends: drop" in line
    assert not out.exists()


def test_live_options_on_live_sources_pass_the_check():
    from droptrack.runtime.checks import check_source_options

    check_source_options("camera0", False, 3, 5.0, True)
    check_source_options("rtsp://127.0.0.1:9/cam", False, 0, None, True)


def test_a_missing_source_is_named_before_the_missing_display(tmp_path):
    """Without --init, `dt run` wants a display to draw the box on; a mistyped path used to get the advice to install
    a GUI build of OpenCV (and, after that install, 'not found'): the source is checked first."""
    from droptrack.runtime.checks import check_source_options

    check_source_options("/no/such/clip.mp4", True, 2, None, False)   # option checks say nothing of it
    out = tmp_path / "out"
    line = one_line_error(cli("run", tmp_path / "clip.mp4", "-o", out / "b.txt"))
    assert "clip.mp4' not found: not a file, folder" in line and "display" not in line and "GUI" not in line
    assert not out.exists()
    line = one_line_error(cli("run", tmp_path / "clip.mp4", "-o", out / "b.txt", "--resume"))
    assert "clip.mp4' not found: not a file, folder" in line   # not "'...clip.mp4' is a missing: drop --resume"
    # an option's own error still comes first (tests/test_ext_option_errors.py): it needs no source to be checked
    assert "--crop-grid" in one_line_error(cli("run", tmp_path / "clip.mp4", "--crop-grid", "x"))


def test_fps_on_a_video_file_names_the_ffmpeg_rate_change(tmp_path):
    """The refusal of --fps on a video file offered only a resize (`-vf scale=W:H`) as the fix."""
    from droptrack.errors import InputError
    from droptrack.runtime.sources import check_capture_options
    from helpers import square_avi

    clip = square_avi(tmp_path / "clip.avi", 3)
    with pytest.raises(InputError, match=r"--fps does nothing for .*change its rate with `ffmpeg -i IN -vf fps=N "
                                         r"OUT\.mp4`\); drop --fps"):
        check_capture_options(str(clip), None, None, 10.0)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_as_source_is_named_as_such_not_as_missing(tmp_path):
    # `dt run p` of a FIFO said "source 'p' not found", though the path exists
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    line = one_line_error(cli("run", fifo, "--init", "10,10,20,20"))
    assert f"source '{fifo}' is not a regular file (a named pipe or device)" in line, line
    assert "tcp://" in line and "not found" not in line, line
