"""`dt run --init x1,y1,x2,y2` (corners, where --init takes x,y,w,h) tracked a box that ran past the frame without
a word. A box past the edge is allowed (a target cut by the frame), so it is a warning, and only when the numbers,
read as corners, make a box inside the frame; it gives the x,y,w,h to pass."""

from __future__ import annotations

from droptrack.runtime.checks import corner_box_note
from helpers import cli


def warnings_of(result) -> list[str]:
    """The warnings about the --init box (carphone also gets its pixel-aspect warning)."""
    assert result.exit_code == 0, result.output
    return [ln for ln in result.output.splitlines() if ln.startswith("warning: --init box")]


def test_corners_given_as_a_box_are_pointed_out(video):   # carphone_pristine.mp4: 176x144
    found = warnings_of(cli("run", video, "--init", "120,40,160,100", "--max-frames", "2"))
    assert found == ["warning: --init box 120,40,160,100 runs past the 176x144 frame (to 280,140); --init takes "
                     "x,y,w,h: if these are corners x1,y1,x2,y2, pass --init 120,40,40,60"]


def test_a_target_cut_by_the_edge_is_not_flagged(video):
    assert warnings_of(cli("run", video, "--init", "150,100,40,60", "--max-frames", "2")) == []


def test_which_boxes_read_as_corners():
    hw = (144, 176)
    assert corner_box_note([[10, 10, 30, 30]], hw) is None                     # inside the frame
    assert corner_box_note([[150, 100, 40, 60]], hw) is None                   # past the edge, w < x: not corners
    assert corner_box_note([[-5, 10, 190, 40]], hw) is None                    # x2 = 190 > 176: not corners either
    assert corner_box_note([[10, 10, 20, 20], [100, 20, 170, 140]], hw) == (
        "target 1's --init box 100,20,170,140 runs past the 176x144 frame (to 270,160); --init takes x,y,w,h: if these "
        "are corners x1,y1,x2,y2, pass --init 100,20,70,120")


def test_a_target_cut_by_the_edge_is_named_where_its_box_is_written(video, tmp_path):
    """The outputs' first row is the --init box's part inside the frame while the tracker starts from the box as
    given: the row differed from --init without a word. Now a warning names both (hand-computed: 150+40 > 176,
    100+60 > 144 -> 26 x 44); not a corner mix-up, so no corner warning beside it."""
    out = tmp_path / "boxes.txt"
    found = warnings_of(cli("run", video, "--init", "150,100,40,60", "--max-frames", "2", "-o", str(out)))
    assert found == ["warning: --init box 150,100,40,60 runs past the 176x144 frame: the tracker starts from it as "
                     "given, and the outputs' first row holds its part inside the frame, 150,100,26,44"]
    assert [float(v) for v in out.read_text().splitlines()[0].replace(",", " ").split()] == [150, 100, 26, 44]
    inside = tmp_path / "inside.txt"
    assert warnings_of(cli("run", video, "--init", "100,50,40,60", "--max-frames", "2", "-o", str(inside))) == []


def test_a_huge_init_box_names_its_side_not_inf():
    """A box of 1e308 x 10 made w*h infinite: the line said 'sqrt(w*h) = inf px'."""
    import pytest

    from droptrack.errors import InputError
    from droptrack.geometry import validate_init_box

    with pytest.raises(InputError, match=r"sqrt\(w\*h\) = 3\.16e\+154 px"):   # sqrt(1e308) x sqrt(10)
        validate_init_box([10, 10, 1e308, 10], (100, 100))
    with pytest.raises(InputError, match=r"sqrt\(w\*h\) = 900 px"):
        validate_init_box([10, 10, 900, 900], (100, 100))
