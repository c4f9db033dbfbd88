"""`dt VERB --help` wraps each paragraph of prose at the terminal's width: the docstrings' own line breaks came
through, so `dt run --help` broke mid-sentence ('... when the run' / 'ends; ...', 'closes the pipe' / '(| head)')
at any width; the example command lines stay one per line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from droptrack.cli import app


def help_lines(*verb: str, columns: int) -> list[str]:
    res = CliRunner().invoke(app, [*verb, "--help"], env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    return [ln.strip() for ln in res.output.splitlines()]


@pytest.mark.parametrize("verb, sentence", [
    (("run",), "SIGINT, SIGTERM and SIGHUP finish the current frame, close every output and exit 130 / 143 / 129 "
               "(before the first frame, e.g. while a stream connects, they stop at once)."),
    (("serve",), "renamed from NAME.part); Ctrl-C and SIGHUP exit 130 / 129 as dt run"),
])
def test_a_paragraph_is_wrapped_at_the_terminal_width_only(verb, sentence):
    lines = help_lines(*verb, columns=400)
    assert any(sentence in ln for ln in lines), "\n".join(lines)


def test_examples_stay_one_command_per_line():
    lines = help_lines("run", columns=200)
    examples = lines[lines.index("Examples:") + 1:][:3]
    assert examples == ["dt run clip.mp4 --init 320,180,60,90 -o boxes.txt --save out.mp4",
                        "dt run camera0 -m model_fp16.engine --device cuda --show",
                        "dt run clip.mp4 --init 320,180,60,90 -o boxes.txt --resume"]
