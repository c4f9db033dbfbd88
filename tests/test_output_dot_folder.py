"""An output path with no file name ('.', './', '/'): dt run and dt serve refuse it as a folder in one line, exit 2
(each was a ValueError traceback from deriving NAME.part or NAME_<k>.txt from an empty name, exit 1)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from droptrack.cli import app

runner = CliRunner()
EXAMPLES = {"--output": "out.txt", "--jsonl": "out.jsonl", "--save": "out.mp4"}


def refusal(args: list) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("option", ["--output", "--jsonl", "--save"])
@pytest.mark.parametrize("targets", [1, 2])
def test_run_refuses_the_current_folder_as_an_output(option, targets, tiny_ckpt, video, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inits = ["--init", "60,40,40,50"] * targets
    line = refusal(["run", video, "-m", tiny_ckpt, "--device", "cpu", *inits, "--max-frames", "2", option, "."])
    assert line == f"error: {option} '.' is a folder; pass a file path inside it, e.g. '{EXAMPLES[option]}'"
    assert list(tmp_path.iterdir()) == []   # nothing written there


@pytest.mark.parametrize("path", ["./", "/"])
def test_run_refuses_other_nameless_outputs(path, tiny_ckpt, video):
    line = refusal(["run", video, "-m", tiny_ckpt, "--device", "cpu", "--init", "60,40,40,50", "-o", path])
    assert line == f"error: --output '{path}' is a folder; pass a file path inside it, e.g. " \
                   f"'{'/out.txt' if path == '/' else 'out.txt'}'"


@pytest.mark.parametrize("option", ["--output", "--jsonl", "--save"])
def test_serve_refuses_the_current_folder_as_an_output(option, tiny_ckpt, video, tmp_path, monkeypatch):
    pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
    monkeypatch.chdir(tmp_path)
    line = refusal(["serve", video, "-m", tiny_ckpt, "--device", "cpu", option, "."])
    assert line == f"error: {option} '.' is a folder; pass a file path inside it, e.g. '{EXAMPLES[option]}'"
    assert list(tmp_path.iterdir()) == []
