"""The same artifact passed twice to `dt bench` (by the same path or another one) is refused before any work:
it was loaded, timed and tracked twice, as two rows ('model' and another name) with the same numbers."""

from __future__ import annotations

import os

import pytest
from helpers import cli


def test_the_same_artifact_twice_is_refused(onnx_model, tmp_path):
    out = tmp_path / "bench"
    res = cli("bench", onnx_model, onnx_model, "--output", out)
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [f"error: '{onnx_model}' is given twice; pass each artifact once"]
    assert not out.exists()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symlinks")
def test_a_link_to_an_artifact_already_given_is_refused(onnx_model, tmp_path):
    link = tmp_path / "alias.onnx"
    link.symlink_to(onnx_model)
    res = cli("bench", onnx_model, link, "--output", tmp_path / "bench")
    assert res.exit_code == 2, res.output
    assert "is given twice" in res.output and str(link) in res.output and "Traceback" not in res.output


def test_dt_analyze_refuses_a_result_folder_given_twice(tmp_path):
    """It scored the folder twice, as two rows 'x#0' and 'x#1' with the same numbers (and a differences table of
    nothing)."""
    from helpers import one_line_error

    folder = tmp_path / "res" / "model"
    folder.mkdir(parents=True)
    (folder / "s.txt").write_text("1\t1\t4\t4\n")
    res = cli("analyze", folder, tmp_path / "res" / ".." / "res" / "model", "--dataset", "otb", "--root", tmp_path,
              "-o", tmp_path / "an")
    assert one_line_error(res) == (f"error: '{folder}' and '{tmp_path / 'res' / '..' / 'res' / 'model'}' (the same "
                                   "folder) is given twice; pass each result folder once")
    assert not (tmp_path / "an").exists()
