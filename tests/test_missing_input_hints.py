"""A missing input's not-found error says what went wrong where it can tell: a path written with Windows' '\\'
(`dt run C:\\v.mp4`, `-m C:\\m.onnx`) gets the '/' form, as outputs' errors do (tests/test_windows_paths.py), and
README's `droptrack/weights/droptrack_tiny_synth.pt` given from another folder gets the embedded model's file, as
dt train and dt export's errors do (tests/test_embedded_hint.py), for dt run, serve, eval, bench, doctor, export and
train --pretrained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import droptrack
from helpers import cli, drifting_clip, one_line_error

EMBEDDED = Path(droptrack.__file__).parent / "weights" / "droptrack_tiny_synth.pt"
README_PATH = "droptrack/weights/droptrack_tiny_synth.pt"
windows = pytest.mark.skipif(os.sep != "/", reason="'\\' separates folders here")


@pytest.fixture
def clip(tmp_path, monkeypatch):
    """A 3-frame folder with its ground truth, and the current folder an empty one beside it."""
    folder = tmp_path / "clip"
    folder.mkdir()
    drifting_clip(folder, 3)
    (folder / "groundtruth.txt").write_text("30,22,26,20\n" * 3)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return folder


@windows
@pytest.mark.parametrize("args, fix", [
    (["run", "C:\\clips\\v.mp4", "--init", "30,22,26,20"], "'/mnt/c/clips/v.mp4'"),
    (["serve", "clips\\v.mp4"], "'clips/v.mp4'"),
    (["run", "{clip}", "--init", "30,22,26,20", "-m", "C:\\models\\m.onnx"], "'/mnt/c/models/m.onnx'"),
    (["eval", "--dataset", "folder", "--root", "{clip}", "-m", "models\\m.onnx"], "'models/m.onnx'"),
    (["bench", "C:\\m.onnx", "--data", "{clip}", "-o", "b"], "'/mnt/c/m.onnx'"),
    (["doctor", "D:\\m.pt"], "'/mnt/d/m.pt'"),
    (["export", "runs\\x\\last.pt"], "'runs/x/last.pt'"),
    (["export", "deploy\\model.onnx", "--engine"], "'deploy/model.onnx'"),
    (["train", "-c", "tiny_ce_test", "--data", "{clip}", "-o", "{clip}/../run", "--pretrained", "runs\\x\\last.pt"],
     "'runs/x/last.pt'"),
])
def test_a_missing_windows_style_input_gets_its_slash_form(clip, args, fix):
    line = one_line_error(cli(*(a.format(clip=clip) for a in args)))
    assert "not found" in line or "does not exist" in line, line
    assert "separates folders with '\\' as Windows does" in line and line.endswith(f"e.g. {fix}"), line
    assert list(Path.cwd().iterdir()) == []


@pytest.mark.parametrize("args", [
    ["run", "{clip}", "--init", "30,22,26,20", "-m", README_PATH],
    ["eval", "--dataset", "folder", "--root", "{clip}", "--checkpoint", README_PATH],
    ["bench", README_PATH, "--data", "{clip}", "-o", "b"],
    ["bench", str(EMBEDDED), "--reference", README_PATH, "--data", "{clip}", "-o", "b"],
    ["doctor", README_PATH],
])
def test_the_embedded_models_path_from_another_folder_names_its_file(clip, args):
    line = one_line_error(cli(*(a.format(clip=clip) for a in args)))
    assert ("not found" in line or "does not exist" in line), line
    assert f"the embedded model's file is '{EMBEDDED}'" in line, line


def test_other_missing_inputs_get_no_such_notes(clip):
    for args in (["run", "v.mp4", "--init", "30,22,26,20"], ["run", str(clip), "--init", "30,22,26,20", "-m", "m.pt"]):
        line = one_line_error(cli(*args))
        assert "not found" in line and "Windows" not in line and "embedded" not in line, line
