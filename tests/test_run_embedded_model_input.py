"""dt run without --model reads the embedded model: an output onto that file is refused as onto any other input
(`dt run clip --init ... -o .../droptrack/weights/droptrack_tiny_synth.pt --overwrite` wrote boxes over the shipped
weights). The test points the embedded model at a copy, so the package's own file is never at risk."""

from __future__ import annotations

import shutil

import pytest

import droptrack.model.default as default
from helpers import cli, drifting_clip, one_line_error


@pytest.mark.parametrize("option", ["-o", "--jsonl"])
def test_output_onto_the_embedded_model_is_refused(tmp_path, monkeypatch, option):
    copy = tmp_path / "weights" / default.DEFAULT_CHECKPOINT
    copy.parent.mkdir()
    shutil.copyfile(default.default_checkpoint(), copy)
    monkeypatch.setattr(default, "default_checkpoint", lambda: copy)
    before = copy.read_bytes()
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 3)
    line = one_line_error(cli("run", clip, "--device", "cpu", "--threads", "1", "--init", "30,22,26,20", option, copy,
                              "--overwrite"))
    assert "is the input" in line and str(copy) in line, line
    assert copy.read_bytes() == before
