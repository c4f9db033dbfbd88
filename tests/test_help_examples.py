"""`dt run --help` and `dt demo --help` explained every option but showed no whole command; a user new to the tool
had to go to the README for one. Each now ends with examples, and every example parses as that command's options."""

from __future__ import annotations

import shlex

import pytest
import typer

from droptrack.cli import app
from helpers import cli


@pytest.mark.parametrize("verb", ["run", "demo"])
def test_help_ends_with_examples_that_parse(verb):
    res = cli(verb, "--help")
    assert res.exit_code == 0 and "Examples:" in res.output
    examples = [ln.strip().split("   (")[0] for ln in res.output.splitlines() if ln.strip().startswith(f"dt {verb}")]
    assert len(examples) >= 3, res.output
    command = typer.main.get_command(app).commands[verb]
    for example in examples:
        args = shlex.split(example)[2:]
        ctx = command.make_context(verb, args)   # raises a UsageError for an unknown option or a bad value
        assert ctx.params, example
