"""`--init 300 18 265 182` (the box split by spaces, or `300, 18, ...` with spaces after the commas) is one error
line giving the box as one argument: dt run said 'unexpected extra argument(s) (18 265 182)', and dt bench, whose
ARTIFACT list takes any number, went on to "model '18' not found"."""

from __future__ import annotations

import pytest

from droptrack.cli.app import spaced_box
from helpers import cli, one_line_error


@pytest.mark.parametrize("args", [
    ["run", "clip.mp4", "--init", "300", "18", "265", "182"],
    ["run", "clip.mp4", "--init", "300,", "18,", "265,", "182"],
    ["bench", "model.onnx", "--data", "clip.mp4", "--init", "300", "18", "265", "182"],
])
def test_a_box_split_by_spaces_is_one_line_with_the_joined_box(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli(*args))
    assert line.endswith("--init 300,18,265,182"), line
    assert "model '18'" not in line and "extra argument" not in line


def test_a_whole_box_or_a_camera_after_it_is_left_to_the_parser():
    assert spaced_box(["run", "v.mp4", "--init", "300,18,265,182", "--max-frames", "5"]) is None
    assert spaced_box(["run", "--init", "5", "0"]) is None   # one number, then camera 0: the box check names it
    assert spaced_box(["run", "v.mp4", "--init", "1.5", "2", "3", "4"]) is not None
