"""dt demo's next line (`dt bench ... --data VIDEO --init x,y,w,h`) and dt export's (`dt run VIDEO ... --init
X,Y,W,H`), pasted as they read with only the video filled in, were told "--init 'x,y,w,h' is not four numbers; pass
--init x,y,w,h": the very text given. The error now says it is a placeholder and what the four numbers are."""

from __future__ import annotations

import pytest

from droptrack.geometry import parse_box
from helpers import cli, one_line_error


@pytest.mark.parametrize("args", [
    ["run", "{clip}", "--init", "x,y,w,h"],
    ["run", "{clip}", "--init", "X,Y,W,H"],
    ["bench", "--tracker", "mil", "--data", "{clip}", "--init", "x,y,w,h", "-o", "b"],
])
def test_the_placeholder_box_says_what_to_put_there(video, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli(*(a.format(clip=video) for a in args)))
    assert "is the placeholder of an example" in line and "left x, top y, width, height" in line, line
    assert "pass --init x,y,w,h" not in line
    assert list(tmp_path.iterdir()) == []


def test_numbers_still_parse():
    assert parse_box("300, 18, 265, 182") == [300.0, 18.0, 265.0, 182.0]
