"""`dt bench --init` said only "is not a box" for any bad box, where dt run's reader (the same one) names the
reason: three numbers, a word, a zero size. dt bench now says that reason too."""

from __future__ import annotations

import pytest

from helpers import cli, drifting_clip, one_line_error


@pytest.mark.parametrize("box, reason", [
    ("1,2,3", "--init '1,2,3' has 3 numbers, not 4"),
    ("a,b,c,d", "--init 'a,b,c,d' is not four numbers"),
    ("1,2,0,4", "--init '1,2,0,4' has a width or height of 0"),
    ("1,2,5,-3", "--init '1,2,5,-3' has a width or height of -3"),
])
def test_a_bad_init_box_names_what_is_wrong_with_it(tmp_path, monkeypatch, box, reason):
    (tmp_path / "clip").mkdir()
    drifting_clip(tmp_path / "clip", 3)
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("bench", "--tracker", "mil", "--data", "clip", "--init", box, "-o", "b"))
    assert line.startswith(f"error: {reason}; pass --init x,y,w,h"), line
    assert not (tmp_path / "b").exists()
