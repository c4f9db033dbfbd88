"""Helpers shared by the export tests: the CLI runner and the one-line-error check."""

from __future__ import annotations

from typer.testing import CliRunner

from droptrack.cli import app

runner = CliRunner()


def cli(*args):
    """`dt ARGS...` in process (every argument as a string)."""
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result) -> str:
    """The error line of a refused command: exit 2, one line starting 'error: ', no traceback."""
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]
