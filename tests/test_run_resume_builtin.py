"""The built-in default model named by its path (`--model .../droptrack_tiny_synth.pt`) is the same model as no
--model: a run killed with one resumes with the other (it was refused, showing the same sha256 twice), and the
files end as an uninterrupted run's. Both run in PyTorch (--pre device): on the CPU's host path no --model takes
the shipped ONNX Runtime graph, another engine, which a resume refuses (test_run_resume_engine.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from droptrack.model.default import default_checkpoint
from droptrack.runtime.run import RunOptions, run
from helpers import cli, drifting_clip

INIT = "30,22,26,20"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return drifting_clip(tmp_path_factory.mktemp("clip"), 12)


@pytest.fixture(scope="module")
def reference(clip, tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("ref") / "b.txt"
    run(RunOptions(source=str(clip), init=[INIT], output=str(out), device="cpu", pre="device", threads=1))
    return out.read_bytes()


@pytest.mark.parametrize("killed_with_path", [False, True])
def test_the_builtin_weights_by_path_resume_a_run_of_the_builtin_model(clip, reference, tmp_path, killed_with_path):
    path = str(default_checkpoint())
    opts = RunOptions(source=str(clip), artifact=path if killed_with_path else None, init=[INIT],
                      output=str(tmp_path / "b.txt"), device="cpu", pre="device", threads=1)
    run(opts, on_frame=lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == 4 else None)
    model = [] if killed_with_path else ["--model", path]
    r = cli("run", clip, *model, "--device", "cpu", "--pre", "device", "--init", INIT, "-o", tmp_path / "b.txt",
            "--resume")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "b.txt").read_bytes() == reference
