"""A first-time user's `dt run`, `dt demo` and `dt doctor`: option combinations, model kinds, help accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import cli, one_line_error


def test_save_container_is_checked_before_the_source_is_opened(tmp_path):
    empty = tmp_path / "frames"   # opening this source fails; --save's container must be refused first
    empty.mkdir()
    line = one_line_error(cli("run", empty, "--init", "1,1,4,4", "--save", tmp_path / "out.txt"))
    assert "--save" in line and "'.txt'" in line and ".mp4" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
