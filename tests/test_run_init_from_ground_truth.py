"""`dt run SEQUENCE` without --init on a headless machine said only 'pass --init x,y,w,h'; where the source has the
ground truth dt eval reads (groundtruth.txt in a frame folder, clip.txt beside clip.mp4), the error now gives its box
on the init frame as an --init to paste."""

from __future__ import annotations

import pytest

from helpers import cli, drifting_clip, one_line_error


@pytest.fixture
def headless():
    from droptrack.runtime.window import display_problem

    if display_problem() is None:
        pytest.skip("this OpenCV has a GUI: dt run opens its box-drawing window instead")


def test_the_missing_init_is_read_from_the_sequence_ground_truth(tmp_path, tiny_ckpt, headless):
    seq = tmp_path / "walk"
    seq.mkdir()
    drifting_clip(seq, 3)
    (seq / "groundtruth.txt").write_text("30,22,26,20\n31.5,23,26,20\n32,24,26,20\n")
    line = one_line_error(cli("run", seq, "-m", tiny_ckpt, "--device", "cpu"))
    assert line.endswith("pass --init x,y,w,h (repeatable) (its ground truth's box on frame 0: --init 30,22,26,20)")
    line = one_line_error(cli("run", seq, "-m", tiny_ckpt, "--device", "cpu", "--start", "1"))
    assert line.endswith("(its ground truth's box on frame 1: --init 31.5,23,26,20)"), line


def test_without_ground_truth_the_error_is_as_before(tmp_path, tiny_ckpt, headless):
    seq = tmp_path / "walk"
    seq.mkdir()
    drifting_clip(seq, 3)
    assert one_line_error(cli("run", seq, "-m", tiny_ckpt, "--device", "cpu")).endswith(
        "pass --init x,y,w,h (repeatable)")
