"""`dt export X.onnx` named a folder, a named pipe, an empty file and a checkpoint renamed .onnx 'already an ONNX
graph' (and, with --engine, 'not found' or 'no droptrack metadata'), where every other command says what they are;
`load_tracker` called a folder 'not found'; a graph without a suffix was 'named  but holds an ONNX graph'."""

from __future__ import annotations

import os
import shutil

import pytest

from droptrack.model.default import default_checkpoint
from helpers import cli, one_line_error


@pytest.mark.parametrize("engine", [False, True])
@pytest.mark.parametrize("kind, said", [
    ("folder", "is a folder, not an ONNX graph; pass the graph file in it, or a checkpoint"),
    ("empty", "is empty (0 bytes), not an ONNX graph"),
    ("pipe", "is not a regular file (a named pipe, device or socket"),
    ("checkpoint", "is named .onnx but holds a PyTorch checkpoint, not an ONNX graph; rename it to .pt")])
def test_dt_export_names_what_a_bad_graph_file_is(tmp_path, kind, said, engine):
    path = tmp_path / "m.onnx"
    {"folder": path.mkdir, "empty": path.touch, "pipe": lambda: os.mkfifo(path),
     "checkpoint": lambda: shutil.copyfile(default_checkpoint(), path)}[kind]()
    line = one_line_error(cli("export", path, *(["--engine"] if engine else [])))
    assert said in line and "already an ONNX graph" not in line, line


def test_a_graph_without_a_suffix_is_worded_so(tmp_path, onnx_model):
    plain = tmp_path / "model"
    shutil.copyfile(onnx_model, plain)
    line = one_line_error(cli("export", plain))
    assert f"'{plain}' has no suffix but holds an ONNX graph, not a PyTorch checkpoint; rename it to .onnx" in line


def test_load_tracker_names_a_folder(tmp_path):
    from droptrack import load_tracker
    from droptrack.errors import BackendError

    (tmp_path / "m.onnx").mkdir()
    with pytest.raises(BackendError, match=r"m\.onnx' is a folder, not an ONNX graph; pass the \.onnx file in it"):
        load_tracker(tmp_path / "m.onnx")
