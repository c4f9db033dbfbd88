"""--init as a ground-truth line is copied: 'x y w h' or tab-separated was read as one number ('1 2 3 4' -> 1234,
'has 1 values'); dt run and dt bench now take commas and/or spaces or tabs, and say how many numbers they got."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.errors import InputError
from droptrack.geometry import parse_box

runner = CliRunner()


@pytest.mark.parametrize("text", ["60,40,40,50", "60 40 40 50", "60\t40\t40\t50", " 60, 40 ,40,  50\n"])
def test_commas_spaces_and_tabs_separate_the_four_numbers(text):
    assert parse_box(text) == [60.0, 40.0, 40.0, 50.0]


@pytest.mark.parametrize("text, said", [("1 2 3", "has 3 numbers, not 4"), ("1234", "has 1 number, not 4"),
                                        ("1,2,3,4,5", "has 5 numbers, not 4")])
def test_a_count_other_than_four_is_named(text, said):
    with pytest.raises(InputError, match=said):
        parse_box(text)


def test_run_with_a_space_separated_box_tracks_as_with_commas(tiny_ckpt, video, tmp_path):
    boxes = {}
    for name, init in (("commas", "60,40,40,50"), ("spaces", "60 40 40 50")):
        out = tmp_path / f"{name}.txt"
        res = runner.invoke(app, ["run", str(video), "-m", str(tiny_ckpt), "--device", "cpu", "--init", init,
                                  "--max-frames", "3", "--output", str(out)])
        assert res.exit_code == 0, res.output
        boxes[name] = out.read_text()
    assert boxes["spaces"] == boxes["commas"] and boxes["commas"].startswith("60")
