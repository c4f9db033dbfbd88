"""A video file given where a dataset's folder goes was told 'or score this video with --dataset video' by every
command: right for dt eval and dt analyze, but dt train has no --dataset (its --data reads no video) and dt export's
INT8 calibration reads a clip as --calib PATH. Each now names its own way, or none."""

from __future__ import annotations

import shutil

import pytest

from helpers import cli, one_line_error

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


@pytest.fixture
def clip(tmp_path, video):
    return shutil.copy(video, tmp_path / "clip.mp4")


def test_train_names_no_option_it_lacks(clip, tmp_path):
    line = one_line_error(cli("train", "--config", "tiny_ce_test", "--data", f"SYNTH={clip}",
                              "--output", tmp_path / "run"))
    assert line == f"error: synth root {clip} is not a folder; point it at the dataset's top folder", line
    assert not (tmp_path / "run").exists()


def test_export_calibration_names_its_own_way_to_read_the_clip(clip, tmp_path):
    line = one_line_error(cli("export", "--int8", "--calib", f"synth:{clip}", "-o", tmp_path / "out"))
    assert line.endswith(f"or calibrate on this video with --calib {clip}"), line
    assert "--dataset" not in line


def test_eval_still_names_dataset_video(clip, tmp_path):
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", clip, "-o", tmp_path / "results"))
    assert line.endswith("or score this video with --dataset video (its x,y,w,h boxes in clip.txt beside it)"), line
