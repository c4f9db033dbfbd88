"""`dt eval --dataset synth --root clip.mp4` (one video where a dataset's folder goes) said to point --root at the
dataset's top folder; for a video file the one line now also names --dataset video, which scores it."""

from __future__ import annotations

import shutil

import pytest

from helpers import cli, one_line_error

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def test_a_video_given_as_a_dataset_root_names_dataset_video(tmp_path, video):
    clip = tmp_path / "my clip.mp4"
    shutil.copy(video, clip)
    assert one_line_error(cli("eval", "--dataset", "synth", "--root", clip)) == (
        f"error: synth root {clip} is not a folder; point it at the dataset's top folder, or score this video with "
        "--dataset video (its x,y,w,h boxes in my clip.txt beside it)")
    notes = tmp_path / "notes.txt"
    notes.write_text("x\n")
    assert one_line_error(cli("eval", "--dataset", "synth", "--root", notes)).endswith("the dataset's top folder")
