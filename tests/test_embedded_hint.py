"""README's fine-tuning command passes `--pretrained droptrack/weights/droptrack_tiny_synth.pt`, a path of the source
tree: from any other folder (or an install without that tree) it was only 'not found'. The error now gives the
embedded model's file, wherever this install keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest

import droptrack
from helpers import cli, one_line_error

EMBEDDED = Path(droptrack.__file__).parent / "weights" / "droptrack_tiny_synth.pt"


@pytest.mark.parametrize("args", [
    ["train", "-c", "droptrack_tiny_synth", "--pretrained", "droptrack/weights/droptrack_tiny_synth.pt",
     "--data", "MINE", "-o", "runs/mine"],
    ["export", "droptrack/weights/droptrack_tiny_synth.pt", "-o", "ex"],
])
def test_the_embedded_models_path_from_another_folder_names_its_file(tmp_path, monkeypatch, args):
    (tmp_path / "MINE").mkdir()
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli(*args))
    assert "not found" in line and f"the embedded model's file is '{EMBEDDED}'" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MINE"]


def test_another_missing_file_gets_no_such_note(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("export", "mine.pt", "-o", "ex"))
    assert "not found" in line and "embedded model's file" not in line, line
