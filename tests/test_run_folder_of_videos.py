"""`dt run FOLDER` where FOLDER holds the video (not frames) said only 'point SOURCE to a folder of frames or a video
file'; the one-line error now names the video file to pass."""

from __future__ import annotations

import shutil

from helpers import cli, one_line_error


def test_a_folder_holding_one_video_names_it(tmp_path, video):
    folder = tmp_path / "my vidéos"
    folder.mkdir()
    shutil.copy(video, folder / "clip one.mp4")
    (folder / "notes.txt").write_text("shot on a phone\n")
    error = one_line_error(cli("run", folder, "--init", "1,1,8,8"))
    assert error.endswith(f"it holds a video: pass the video file as SOURCE, '{folder / 'clip one.mp4'}'"), error


def test_a_folder_of_videos_names_one(tmp_path, video):
    for name in ("b.avi", "a.mp4"):
        shutil.copy(video, tmp_path / name)
    error = one_line_error(cli("run", tmp_path, "--init", "1,1,8,8"))
    assert error.endswith(f"it holds 2 videos: pass one video file as SOURCE, e.g. '{tmp_path / 'a.mp4'}'"), error
