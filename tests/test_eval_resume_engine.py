"""A resumed `dt eval` of the built-in model could mix engines: the first run in ONNX Runtime (its shipped graph),
the resume in PyTorch where onnxruntime is no longer importable, or the reverse; the same weights, boxes that differ
in the last bits. eval.json now records the engine, and a resume in the other one is refused in one line."""

import json
import sys

import pytest

from droptrack.data import generate_synth
from droptrack.model.default import default_checkpoint
from helpers import cli, one_line_error

pytest.importorskip("onnxruntime")


def _args(tmp_path, out):
    root = generate_synth(tmp_path / "set", 2, 3, seed=0, size=(96, 64), split="val")
    return ["eval", "--dataset", "synth", "--root", root, "--output", tmp_path / out, "--threads", "1"]


def test_resume_in_pytorch_of_an_onnx_runtime_run_is_refused(tmp_path, monkeypatch):
    args = _args(tmp_path, "out")
    assert cli(*args, "--sequences", "synth_val_00001").exit_code == 0
    assert json.loads((tmp_path / "out" / "default" / "eval.json").read_text())["engine"] == "onnxruntime"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # not importable now: the checkpoint would run in torch
    line = one_line_error(cli(*args))
    assert "ONNX Runtime, now in PyTorch" in line and "install onnxruntime" in line
    assert not (tmp_path / "out" / "default" / "synth_val_00002.txt").exists()


def test_resume_in_onnx_runtime_of_a_pytorch_run_is_refused_and_model_path_resumes(tmp_path, monkeypatch):
    args = _args(tmp_path, "out")
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "onnxruntime", None)
        assert cli(*args, "--sequences", "synth_val_00001").exit_code == 0
    manifest = tmp_path / "out" / "default" / "eval.json"
    assert json.loads(manifest.read_text())["engine"] == "torch"
    line = one_line_error(cli(*args))
    assert "PyTorch, now in ONNX Runtime" in line and f"--model {default_checkpoint()} --name default" in line
    assert not (tmp_path / "out" / "default" / "synth_val_00002.txt").exists()
    assert cli(*args, "--model", default_checkpoint(), "--name", "default").exit_code == 0   # the line's fix
    assert (tmp_path / "out" / "default" / "synth_val_00002.txt").is_file()
