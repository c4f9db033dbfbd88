"""The Python API's trackers check init boxes as `dt run` checks its --init boxes: a box under 1 px is an InputError
with the tracker unchanged (dt run refuses it too), a box on pixels of one colour (a black or fading-in first frame:
Megamind.avi's) is a FlatTargetWarning and one that reads as corners x1,y1,x2,y2 a CornerBoxWarning, each pointing at
the caller's line. Before, `load_tracker()` took all three without a word and tracked nothing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from droptrack import InputError, Tracker, load_tracker
from droptrack.errors import CornerBoxWarning, FlatTargetWarning
from droptrack.runtime.build import build_tracker
from helpers import drifting_square_clip

GOOD = (60, 40, 30, 30)


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    """Three 120x160 RGB frames: a textured square drifting on noise."""
    return drifting_square_clip(3)


@pytest.fixture(scope="module", params=["load_tracker", "host", "device"])
def checked(request, tiny_ckpt):
    """A tracker that makes the init checks: load_tracker's, and build_tracker(init_checks=True)'s host and device."""
    if request.param == "load_tracker":
        return load_tracker(str(tiny_ckpt))
    return build_tracker(str(tiny_ckpt), None, "cpu", pre=request.param, init_checks=True)


def boxes_after(tracker, frames) -> list:
    """The boxes and scores of tracking frames[1:] with the targets the tracker has."""
    return [[(r.box, r.score) for r in tracker.track_many(f)] for f in frames[1:]]


@pytest.mark.parametrize("box", [(60, 40, 0.5, 0.5), (60, 40, 0.2, 30), (60, 40, 30, 0.9)])
def test_sub_pixel_boxes_are_refused_as_dt_run_refuses_them(checked, clip, box):
    checked.initialize(clip[0], GOOD)
    expected = boxes_after(checked, clip)
    checked.initialize(clip[0], GOOD)
    with pytest.raises(InputError, match=r"under 1 pixel wide or high; give a box of at least 1x1 px"):
        checked.initialize(clip[0], box)
    with pytest.raises(InputError, match="under 1 pixel"):
        checked.add_targets(clip[0], [box])
    assert boxes_after(checked, clip) == expected          # the running target is untouched


def test_a_box_on_a_black_frame_warns_at_the_callers_line(checked, clip):
    black = np.zeros_like(clip[0])
    with pytest.warns(FlatTargetWarning, match=r"box 60,40,30,30 on the frame given is all one colour \(level 0") as w:
        checked.initialize(black, GOOD)
    assert w[0].filename == __file__
    assert "initialize on a frame that shows the target" in str(w[0].message)
    checked.initialize(clip[0], GOOD)
    grey = clip[0].copy()
    grey[80:110, 10:50] = 128
    with pytest.warns(FlatTargetWarning, match=r"box 10,80,40,30 .* all one colour \(level 128") as w:
        checked.add_targets(grey, [(10, 80, 40, 30)])
    assert w[0].filename == __file__
    assert checked.num_targets == 2                         # a warning, not an error: the target is added


def test_corner_looking_boxes_warn_with_the_xywh_box_to_pass(checked, clip):
    with pytest.warns(CornerBoxWarning, match=r"box 60,40,110,90 runs past the 160x120 frame \(to 170,130\); "
                      r"boxes are x,y,w,h: if these are corners x1,y1,x2,y2, pass \(60, 40, 50, 50\)") as w:
        checked.initialize(clip[0], (60, 40, 110, 90))
    assert w[0].filename == __file__


def test_textured_boxes_inside_the_frame_give_no_warning(checked, clip):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checked.initialize(clip[0], GOOD)
        checked.add_targets(clip[0], [(140, 100, 30, 30)])   # past the edge, not corners (140 > 30)
        checked.initialize_many(clip[0], [GOOD, (1, 1, 1, 1)])
    assert checked.num_targets == 2


def test_trackers_built_without_the_checks_keep_the_official_procedure(tiny_ckpt, clip):
    """Eval, bench and dt run build trackers without them (dt run words its own; a dataset's box is tracked as given)."""
    plain = Tracker(load_tracker(str(tiny_ckpt)).backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain.initialize(np.zeros_like(clip[0]), GOOD)
        plain.initialize(clip[0], (60, 40, 0.5, 0.5))
    assert len(boxes_after(plain, clip)) == 2
