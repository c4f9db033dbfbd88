"""`dt eval` stopped by Ctrl-C names the results folder holding the finished sequences: its control characters went
to the terminal raw (an escape sequence that clears the screen, swallowed from the name where it is not a
terminal)."""

from __future__ import annotations

import pytest

from helpers import cli

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def test_the_interrupted_line_names_the_results_with_control_characters_escaped(tmp_path, monkeypatch):
    import droptrack.eval.run

    out = tmp_path / "r\x1b[2J"

    def interrupted(*args, **kwargs):   # Ctrl-C after one of two sequences was saved
        exc = KeyboardInterrupt()
        exc.saved = (1, 2, out)
        raise exc

    monkeypatch.setattr(droptrack.eval.run, "evaluate_dataset", interrupted)
    res = cli("eval", "--dataset", "synth", "--root", tmp_path, "--output", out)
    assert res.exit_code == 130, res.output
    assert res.output.startswith(f"interrupted: 1 of 2 sequences saved in {tmp_path}/r\\x1b[2J; "), res.output
