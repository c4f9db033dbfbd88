"""The tracker-extension options' panel title in `dt run --help` was 90 characters, cut in an 80-column terminal
('... default: the mod─╮'); it is read whole at 80 columns and in a 60-column one."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from droptrack.cli import app


@pytest.mark.parametrize("columns", [60, 80])
@pytest.mark.parametrize("verb", ["run", "eval"])
def test_the_extension_panel_title_is_not_cut(verb, columns):
    res = CliRunner().invoke(app, [verb, "--help"], env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    title = next(ln for ln in res.output.splitlines() if "Tracker extensions" in ln)
    assert "Tracker extensions (opt-in; default: the model's)" in title and len(title) <= columns, title
