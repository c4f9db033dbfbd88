"""A video or an image given where a checkpoint goes (`dt export clip.mp4`, the clip and the model swapped) is named
as what it is; the error asked whether it was 'a text file or another kind of file renamed .mp4'."""

from __future__ import annotations

import pytest

from droptrack.artifact import content_problem
from helpers import cli, drifting_clip, one_line_error


def test_a_video_as_the_checkpoint_is_named_a_video(video, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("export", video, "-o", "ex"))
    assert "is a video (.mp4), not a PyTorch checkpoint" in line and "renamed" not in line, line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, kind", [("frame.png", "an image (.png)"), ("frame.JPG", "an image (.jpg)")])
def test_an_image_as_the_checkpoint_is_named_an_image(tmp_path, name, kind):
    drifting_clip(tmp_path, 1)
    (tmp_path / "00000.png").rename(tmp_path / name)
    assert f"is {kind}, not a PyTorch checkpoint" in content_problem(tmp_path / name)


def test_other_bytes_keep_the_renamed_file_question(tmp_path):
    (tmp_path / "notes.pt").write_text("hello\n")
    assert "renamed .pt?" in content_problem(tmp_path / "notes.pt")


def test_the_hint_names_what_writes_the_kind_wanted(video, tmp_path):
    """dt export writes ONNX graphs and reads checkpoints: a clip given where a checkpoint goes is not told to pass
    'one written by dt export' (`dt export tree.avi`); where a graph goes, dt export is what writes one."""
    line = one_line_error(cli("export", video, "-o", tmp_path / "ex"))
    assert "`dt export`" not in line and "pass a checkpoint (.pt / .pth.tar / .safetensors)" in line, line
    assert "`dt train`" in line and line.endswith("or leave CHECKPOINT out to export the default model"), line
    (tmp_path / "notes.pt").write_text("hello\n")
    assert "`dt export`" not in content_problem(tmp_path / "notes.pt")
    (tmp_path / "notes.onnx").write_text("hello\n")
    assert "an ONNX graph, e.g. one written by `dt export`" in content_problem(tmp_path / "notes.onnx")
