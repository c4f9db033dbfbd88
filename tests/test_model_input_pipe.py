"""A named pipe given as dt run's -m (a checkpoint or an ONNX model), --config or a dt bench artifact was refused
without reading it (a read would wait for a writer forever), but as "'f.pt' not found", though it exists: the line
now says it is not a regular file, and how to pass one."""

from __future__ import annotations

import os

import pytest

from helpers import cli, drifting_clip, one_line_error

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")


@pytest.mark.parametrize("option,name,label", [("-m", "f.pt", "checkpoint"), ("-m", "f.onnx", "model"),
                                               ("--config", "f.yaml", "config file")])
def test_a_named_pipe_as_model_or_config_is_said_to_be_no_regular_file(tmp_path, option, name, label):
    frames = tmp_path / "frames"
    frames.mkdir()
    drifting_clip(frames, 4)
    pipe = tmp_path / name
    os.mkfifo(pipe)
    out = tmp_path / "boxes.txt"
    line = one_line_error(cli("run", frames, "--init", "30,22,26,20", option, pipe, "-o", out))
    assert line == (f"error: {label} '{pipe}' is not a regular file (a named pipe, device or socket, which reading "
                    "would wait on or never end); save what it carries to a file and pass that file")
    assert not out.exists()


def test_a_named_pipe_as_a_bench_artifact_is_refused_before_any_work(tmp_path):
    """dt bench PIPE.onnx made the output folder, then failed the row as 'f.onnx not found' (exit 1)."""
    pipe = tmp_path / "f.onnx"
    os.mkfifo(pipe)
    out = tmp_path / "bench"
    line = one_line_error(cli("bench", pipe, "--data", "synthetic", "-o", out))
    assert line == (f"error: artifact '{pipe}' is not a regular file (a named pipe, device or socket, which reading "
                    "would wait on or never end); save what it carries to a file and pass that file")
    assert not out.exists()
