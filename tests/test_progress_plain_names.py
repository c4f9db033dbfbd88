"""Progress bars show names from elsewhere (dataset folders, sequences, model files, a split) as they are: rich
read bar descriptions as markup with emoji codes, so 'run:smile:1' became an emoji and '[red]x' was markup."""

from __future__ import annotations

import io
import re

from droptrack.data.synth_progress import SynthProgress
from droptrack.eval.bench_timing import bar
from droptrack.eval.progress import EvalProgress

NAME = "run:smile:1 [red]x[/red] tiny[fp16]"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class _Terminal(io.StringIO):
    """A stream that says it is a terminal: rich draws its bars into it."""

    def isatty(self) -> bool:
        return True


def _shown(text: str) -> str:
    """What a reader sees: the output without colour and cursor sequences."""
    return ANSI.sub("", text)


def _plain(text: str) -> None:
    assert NAME in text, text
    assert "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in text, text


def test_bench_bar_shows_its_label_as_it_is(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    with bar(f"latency {NAME}") as update:
        update(1, 2)
    _plain(_shown(capsys.readouterr().err))


def test_eval_bars_show_sequence_and_tracker_names_as_they_are():
    out = _Terminal()
    with EvalProgress([[0] * 4], resumed=0, stream=out, label=NAME) as shown:
        shown.update("seq " + NAME, 2, 4)
    text = _shown(out.getvalue())
    _plain(text)
    assert f"{NAME} 0/1 seq" in text and f"seq {NAME}" in text, text


def test_synth_bar_shows_its_label_as_it_is():
    out = _Terminal()
    with SynthProgress(True, 1, 2, NAME, stream=out) as shown:
        shown.step("s", "rendered", 1)
    _plain(_shown(out.getvalue()))
