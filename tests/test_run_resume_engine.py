"""`dt run --resume` of the built-in model in another engine than the killed run's (its shipped ONNX Runtime graph,
or its checkpoint in PyTorch where onnxruntime is missing or `--model` names the checkpoint) silently continued the
box file with the other engine's boxes: the journal records the engine, and another one is refused in one line
naming both; a journal of an earlier droptrack that did not record it still resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from droptrack.model.default import default_checkpoint
from droptrack.runtime.run import RunOptions, run
from helpers import cli, drifting_clip, one_line_error

INIT = "30,22,26,20"
NO_ORT = ("import sys; sys.modules['onnxruntime'] = None\n"   # a child process without onnxruntime
          "from droptrack.cli import app; app(sys.argv[1:], prog_name='dt')")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return drifting_clip(tmp_path_factory.mktemp("clip"), 12)


def _interrupted(clip: Path, out: Path, artifact: str | None = None) -> dict:
    """A run of the built-in model stopped (SIGINT) after 5 frames: its journal's recorded compute path."""
    opts = RunOptions(source=str(clip), artifact=artifact, init=[INIT], output=str(out), device="cpu", threads=1)
    run(opts, on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 5 else None)
    assert out.read_text().count("\n") == 5
    return json.loads(out.with_name(out.name + ".resume.json").read_text())["identity"]["compute"]


def _args(clip: Path, out: Path) -> list:
    return ["run", clip, "--device", "cpu", "--threads", "1", "--init", INIT, "-o", out, "--resume"]


def test_a_graph_run_resumed_in_torch_is_refused_naming_both(clip, tmp_path):
    out = tmp_path / "b.txt"
    assert _interrupted(clip, out)["engine"] == "onnxruntime"
    line = one_line_error(cli(*_args(clip, out), "--model", default_checkpoint()))
    assert "the killed run tracked with ONNX Runtime, this one with PyTorch" in line, line
    assert out.read_text().count("\n") == 5   # left as it was
    r = cli(*_args(clip, out))   # the built-in model's graph again
    assert r.exit_code == 0, r.output
    assert out.read_text().count("\n") == 12


def test_a_torch_run_resumed_on_the_graph_is_refused_naming_the_checkpoint(clip, tmp_path):
    out = tmp_path / "b.txt"
    assert _interrupted(clip, out, str(default_checkpoint()))["engine"] == "torch"
    line = one_line_error(cli(*_args(clip, out)))
    assert "the killed run tracked with PyTorch, this one with ONNX Runtime" in line, line
    assert f"--model {default_checkpoint()}" in line, line
    assert out.read_text().count("\n") == 5


def test_a_resume_where_onnxruntime_is_missing_is_refused(clip, tmp_path):
    out = tmp_path / "b.txt"
    _interrupted(clip, out)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-c", NO_ORT, *map(str, _args(clip, out))], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "the killed run tracked with ONNX Runtime, this one with PyTorch" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr
    assert out.read_text().count("\n") == 5


def test_a_journal_without_an_engine_still_resumes(clip, tmp_path):
    out = tmp_path / "b.txt"
    _interrupted(clip, out)
    journal = out.with_name("b.txt.resume.json")
    data = json.loads(journal.read_text())
    assert data["identity"]["compute"].pop("engine") == "onnxruntime"   # as an earlier droptrack wrote it
    journal.write_text(json.dumps(data))
    r = cli(*_args(clip, out))
    assert r.exit_code == 0, r.output
    assert out.read_text().count("\n") == 12
