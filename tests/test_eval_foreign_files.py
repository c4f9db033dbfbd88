"""A dt eval results folder (OUTPUT/<name>/) holding files of the names the run writes that no dt command wrote: an
eval.json of another tool (no results beside it) and a report.json or plot were replaced without a word. They are
refused in one line before any work, untouched (as dt analyze refuses them in its --output); dt eval's own earlier
folder still resumes."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from helpers import cli, one_line_error

from droptrack.data import generate_synth


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate_synth(tmp_path_factory.mktemp("set") / "set", sequences=1, frames=4, seed=0, size=(96, 72))


@pytest.mark.parametrize("name, content, words", [
    ("eval.json", b"my notes\n", "holds eval.json, which dt eval did not write"),
    ("eval.json", json.dumps({"run": "mine"}).encode(), "holds eval.json, which dt eval did not write"),
    ("report.json", json.dumps({"auc": 0.5}).encode(), "holds report.json, which dt analyze did not write"),
    ("success.png", cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes(),
     "holds success.png, which dt analyze did not write")], ids=["eval.json-text", "eval.json-another-tool",
                                                                  "report.json", "success.png"])
def test_a_file_of_a_name_eval_writes_that_no_dt_command_wrote_is_kept(tiny_ckpt, data, tmp_path, name, content,
                                                                        words):
    out = tmp_path / "out" / "mine"
    out.mkdir(parents=True)
    (out / name).write_bytes(content)
    args = ["eval", "--dataset", "synth", "--root", data, "-m", tiny_ckpt, "-o", tmp_path / "out", "--name", "mine"]
    assert words in one_line_error(cli(*args))
    assert sorted(p.name for p in out.iterdir()) == [name] and (out / name).read_bytes() == content
    (out / name).unlink()
    assert cli(*args).exit_code == 0   # then the run writes its own
    assert cli(*args).exit_code == 0   # and its own earlier folder resumes


@pytest.mark.parametrize("content, what", [(b"\x00garbage", "it is not readable as JSON"),
                                           (json.dumps({"run": "mine"}).encode(), "it is not dt eval's")],
                         ids=["garbage", "another-tool"])
def test_a_foreign_eval_json_beside_result_files_names_itself_not_another_run(tiny_ckpt, data, tmp_path, content,
                                                                             what):
    """Such an eval.json with result files beside it was refused as 'holds results of another run (artifact_sha256:
    None, now '...', from None)': no run is named in it. The line now says the file is not dt eval's (or not
    readable), that the results beside it cannot be resumed for that, and what to do; all kept as they were."""
    out = tmp_path / "out" / "mine"
    out.mkdir(parents=True)
    (out / "eval.json").write_bytes(content)
    (out / "seq_000.txt").write_text("1,2,3,4\n")
    args = ["eval", "--dataset", "synth", "--root", data, "-m", tiny_ckpt, "-o", tmp_path / "out", "--name", "mine"]
    line = one_line_error(cli(*args))
    assert f"holds eval.json, which dt eval did not write: {what}" in line, line
    assert "result files beside it (seq_000.txt) cannot be resumed" in line, line
    assert line.endswith("pass another --output, or move eval.json and those files away"), line
    assert "None" not in line and "another run" not in line, line
    assert sorted(p.name for p in out.iterdir()) == ["eval.json", "seq_000.txt"]
    assert (out / "eval.json").read_bytes() == content
