"""A missing artifact of `dt bench` is named as what it is, a positional ARTIFACT: the line said 'pass an existing
--checkpoint/--model file', options dt bench does not have."""

from __future__ import annotations

from helpers import cli, one_line_error


def test_a_missing_artifact_names_no_option_dt_bench_lacks(tmp_path):
    line = one_line_error(cli("bench", tmp_path / "nope.onnx", "-o", tmp_path / "out"))
    assert line == (f"error: artifact '{tmp_path / 'nope.onnx'}' not found; pass existing checkpoint, .onnx or .engine "
                    "files")
    assert not (tmp_path / "out").exists()
