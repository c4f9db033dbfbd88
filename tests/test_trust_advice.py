"""A checkpoint that pickles a foreign object (here types.SimpleNamespace, as some training scripts save their args) is
refused by every command; the refusal's advice must work in the command that gave it. It said 'pass
--trust-checkpoint' everywhere, and dt eval, bench, serve, doctor, demo and train answered 'No such option'."""

from __future__ import annotations

import re
import shlex

import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data.synth import generate_synth

runner = CliRunner()


def refusal(args: list) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "types.SimpleNamespace" in lines[0], result.output
    return lines[0]


def test_the_commands_named_as_taking_the_option_take_it(with_args):
    said = re.search(r"pass --trust-checkpoint \(([^)]*)\)", refusal(["doctor", with_args]))
    assert said is not None and said.group(1)
    for command in said.group(1).split(", "):
        help_text = runner.invoke(app, [*command.split()[1:], "--help"]).output
        assert "--trust-checkpoint" in help_text, command


def test_eval_refusal_advice_works_in_dt_eval(with_args, tmp_path):
    root = generate_synth(tmp_path / "set", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    base = ["eval", "--dataset", "synth", "--root", root, "--split", "val", "--output", tmp_path / "res"]
    msg = refusal([*base, "-m", with_args])
    takes_it = "--trust-checkpoint" in runner.invoke(app, ["eval", "--help"]).output
    convert = re.search(r"use DIR/model\.safetensors from dt export (.+?) -o DIR$", msg)
    if takes_it:
        result = runner.invoke(app, [str(a) for a in [*base, "-m", with_args, "--trust-checkpoint"]])
    else:   # the advice must not be an option dt eval lacks: the conversion it names, then the converted file
        assert convert is not None, msg
        words = [str(with_args) if w == "CKPT" else w for w in shlex.split(convert.group(1))]
        exported = runner.invoke(app, ["export", *words, "-o", str(tmp_path / "conv")])
        assert exported.exit_code == 0, exported.output
        result = runner.invoke(app, [str(a) for a in [*base, "-m", tmp_path / "conv" / "model.safetensors"]])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "res").is_dir() and any((tmp_path / "res").rglob("synth_val_00001.txt"))


@pytest.mark.parametrize("command", ["doctor", "bench"])
def test_commands_without_the_option_are_not_told_to_pass_it(command, with_args, tmp_path):
    if command == "doctor":
        msg = refusal(["doctor", with_args])
    else:
        result = runner.invoke(app, ["bench", str(with_args), "--reference", str(with_args), "--sequences", "1",
                                     "--frames", "3", "-o", str(tmp_path / "b")])
        assert result.exit_code == 2, result.output
        msg = [ln for ln in result.output.splitlines() if ln.strip()][-1]
    takes_it = "--trust-checkpoint" in runner.invoke(app, [command, "--help"]).output
    said = re.search(r"pass --trust-checkpoint \(([^)]*)\)", msg)
    assert takes_it or (said is not None and f"dt {command}" not in said.group(1).split(", ")), msg
