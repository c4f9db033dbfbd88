"""`dt doctor` on an ONNX graph that `dt export` did not write (no droptrack metadata, e.g. one made with
onnx.helper) printed the environment table and 'error: X.onnx on cpu: ...' with exit 1, as if this machine's
ONNX Runtime were at fault; dt run refuses the same file as bad input. It is now that: one line on stderr, exit 2,
naming the missing metadata and `dt export CHECKPOINT`, as dt run says it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from helpers import cli

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _plain_graph(path) -> None:
    """A valid one-node ONNX graph (Identity) with no metadata_props."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "plain", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_a_graph_without_droptrack_metadata_is_bad_input_as_in_dt_run(tmp_path):
    path = tmp_path / "plain.onnx"
    _plain_graph(path)
    r = cli("doctor", path)
    assert r.exit_code == 2 and r.stdout == "", r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "plain.onnx" in lines[0] and "no droptrack metadata" in lines[0] and "dt export CHECKPOINT" in lines[0]
    clip = tmp_path / "clip"
    clip.mkdir()
    cv2.imwrite(str(clip / "00000.png"), np.zeros((48, 64, 3), np.uint8))
    run = cli("run", clip, "--init", "10,10,20,20", "-m", path)
    assert run.exit_code == 2 and run.stderr == r.stderr, run.stderr



def test_a_damaged_graph_an_engine_without_sidecar_and_a_pipe_are_bad_input(onnx_model, tmp_path):
    import os

    from helpers import one_line_error

    cut = tmp_path / "cut.onnx"       # each printed the environment table, then a failed check with exit 1
    data = onnx_model.read_bytes()
    cut.write_bytes(data[:len(data) // 3])
    assert "is not a readable ONNX file" in one_line_error(cli("doctor", cut))
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"plan")
    assert "has no sidecar model.engine.json" in one_line_error(cli("doctor", engine))
    pipe = tmp_path / "pipe.onnx"
    os.mkfifo(pipe)
    line = one_line_error(cli("doctor", pipe))
    assert "is not a regular file" in line or "pipe" in line, line
