"""An option that takes one value, given twice (`dt run v.mp4 -o a.txt -o b.txt`, `--threads 1 --threads 2`), is
one error line naming it, exit 2, before any work: Click kept the last value silently, so the boxes went to b.txt
while the user looked in a.txt. Options meant to repeat (--init, --data, --precision, ...) still repeat."""

from __future__ import annotations

import pytest
import typer

from droptrack.cli import app
from droptrack.cli.repeated import repeated_option
from helpers import cli, drifting_clip, one_line_error

INIT = "30,22,26,20"


@pytest.mark.parametrize("args, names", [
    (["run", "{clip}", "--init", INIT, "-o", "{d}/a.txt", "-o", "{d}/b.txt"], "-o is given twice"),
    (["run", "{clip}", "--init", INIT, "--threads", "1", "--threads", "2"], "--threads is given twice"),
    (["run", "{clip}", "--init", INIT, "-o", "{d}/a.txt", "--output={d}/b.txt"], "-o / --output is given twice"),
    (["run", "{clip}", "--init", INIT, "-o{d}/a.txt", "--jsonl", "-", "-o", "{d}/b.txt"], "-o is given twice"),
    (["run", "{clip}", "--max-frames=1", "--max-frames", "2", "--max-frames", "3"], "--max-frames is given 3 times"),
    (["eval", "--dataset", "synth", "--root", "{d}", "--dataset", "got10k"], "--dataset is given twice"),
    (["bench", "m.onnx", "-o", "{d}/x", "-o", "{d}/y"], "-o is given twice"),
    (["data", "synth", "{d}/set", "--sequences", "2", "--sequences", "3"], "--sequences is given twice"),
    (["export", "--output", "{d}/e1", "--output", "{d}/e2"], "--output is given twice"),
])
def test_a_single_value_option_given_twice_is_refused_before_any_work(tmp_path, args, names):
    clip = drifting_clip(tmp_path / "clip", 3)
    before = sorted(p.name for p in tmp_path.iterdir())
    line = one_line_error(cli(*(a.format(clip=clip, d=tmp_path) for a in args)))
    assert names in line and "takes one value" in line and "give it once" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before   # nothing written


def _command(*words: str):
    """The Click command `dt WORDS...` runs."""
    cmd = typer.main.get_command(app)
    for word in words:
        cmd = cmd.commands[word]
    return cmd


@pytest.mark.parametrize("args", [
    ["run", "v.mp4", "--init", INIT, "--init", "1,2,3,4", "-o", "b.txt"],   # repeatable: several targets
    ["run", "v.mp4", "-o", "-o"],   # the second '-o' is the first one's value, as Click reads it
    ["run", "v.mp4", "-o", "b.txt", "--", "-o"],   # after '--' an argument, not an option (Click's error names it)
    ["run", "v.mp4", "--show", "--show", "-o", "b.txt"],   # a switch twice says the same thing twice
    ["run", "v.mp4", "--jsonl=-", "--init=--threads"],
])
def test_repeatable_options_and_values_that_look_like_options_pass(args):
    assert repeated_option(args, ["run"], _command("run")) is None


def test_repeatable_options_of_other_commands_pass():
    assert repeated_option(["train", "--data", "a=x", "--data=b=y"], ["train"], _command("train")) is None
    assert repeated_option(["export", "--precision", "fp16", "--precision", "int8"], ["export"],
                           _command("export")) is None
    assert repeated_option(["serve", "v", "--allow-origin", "a", "--allow-origin", "b"], ["serve"],
                           _command("serve")) is None
