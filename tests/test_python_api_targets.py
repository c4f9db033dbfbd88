"""The Python API with the boxes and call orders real callers use: every box type gives the boxes of the same four
floats, bad boxes and misuse are one clear exception with nothing changed, and targets, removals and reuse give
what a fresh tracker on the same targets gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from droptrack.errors import InputError
from droptrack.runtime.run import build_tracker
from test_python_api_inputs import BOX, build_tracker_like, clip, run, tracker  # noqa: F401 - shared fixtures

OTHER = (10, 10, 24, 20)


@pytest.mark.parametrize("box", [
    [60, 40, 30, 30], (60.0, 40.0, 30.0, 30.0), np.array(BOX), np.array(BOX, np.float32), np.array(BOX, np.uint8),
    torch.tensor(BOX), torch.tensor(BOX, dtype=torch.float64), [np.int64(60), np.float32(40), 30, torch.tensor(30)],
])
def test_box_types_give_the_boxes_of_their_four_floats(tracker, clip, box):
    assert run(tracker, clip, box) == run(tracker, clip, (60.0, 40.0, 30.0, 30.0))


def test_boxes_partly_outside_the_frame_are_tracked(tracker, clip):
    for box in [(-10, -10, 30, 30), (150, 100, 30, 30)]:                 # up to 20 px past an edge
        for x, y, w, h, s in run(tracker, clip, box):
            assert 0 <= x and 0 <= y and x + w <= 160 and y + h <= 120 and np.isfinite(s)


@pytest.mark.parametrize("box, words", [
    ((200, 100, 30, 30), ["lies outside the 160x120 frame"]),
    ((-40, 40, 30, 30), ["lies outside the 160x120 frame"]),
    ((60, 40, 0, 30), ["zero or negative size", "width and height must be > 0"]),
    ((60, 40, 30, -5), ["zero or negative size"]),
    ((60, 40, float("nan"), 30), ["not finite", "x, y, w, h in pixels"]),
    ((60, float("inf"), 30, 30), ["not finite"]),
    ((60, 40, 30), ["has 3 numbers", "four numbers x, y, w, h"]),
    ((60, 40, 30, 30, 1), ["has 5 numbers"]),
    (np.array([BOX]), ["shape (1, 4)", "initialize_many"]),
    ("60,40,30,30", ["is text", "e.g. (60, 40, 30, 30)"]),
    (None, ["None is not four numbers"]),
    ({"x": 60, "y": 40, "w": 30, "h": 30}, ["is a dict", "(d['x'], d['y'], d['w'], d['h'])"]),
    ((60, 40, "w", 30), ["holds text, not numbers"]),
    (("60", "40", "30", "30"), ["holds text, not numbers"]),     # float('60') read it: a parsing slip went unseen
    ((True, True, True, True), ["holds True / False"]),           # float(True) is 1.0
    (np.array([1, 0, 1, 1], dtype=bool), ["holds True / False"]),
])
def test_bad_boxes_are_one_clear_error_and_change_nothing(tracker, clip, box, words):
    tracker.initialize(clip[0], OTHER)
    with pytest.raises(InputError) as err:
        tracker.initialize(clip[0], box)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert tracker.states == [list(map(float, OTHER))]                  # the earlier target is still tracked
    assert tracker.track(clip[1]) == build_and_track(tracker, clip, OTHER)


def build_and_track(tracker, clip, box):
    """A fresh tracker of the same kind: initialise on clip[0], one track on clip[1]."""
    fresh = build_tracker_like(tracker)
    fresh.initialize(clip[0], box)
    return fresh.track(clip[1])


def test_docstrings_say_the_conventions():
    from droptrack.runtime.tracker import Tracker, load_tracker

    for fn in (Tracker.initialize, Tracker.track, Tracker.track_many, load_tracker):
        doc = fn.__doc__
        assert "x,y,w,h" in doc and "pixels" in doc, fn.__name__
    for fn in (Tracker.initialize, Tracker.track, Tracker.track_many, Tracker.initialize_many):
        assert "RGB uint8 (H,W,3)" in fn.__doc__, fn.__name__


@pytest.mark.parametrize("boxes, words", [
    (BOX, ["is one box, not a list of boxes", "[box]"]),
    (np.array(BOX), ["one box", "(N, 4) array"]),
    ([], ["no boxes given"]),
    (np.zeros((0, 4)), ["no boxes given"]),
    ([BOX, (60, 40, 30)], ["has 3 numbers"]),
    ([BOX, (60, 40, 0, 30)], ["zero or negative size"]),
    (np.ones((2, 5)), ["has 5 numbers"]),
    (7, ["not a list of boxes"]),
    ({"a": BOX}, ["boxes is a dict", "pass a list of boxes [box, ...]", "list(d.values())"]),   # not "box 'a' is text"
    ({}, ["boxes is a dict"]),
])
def test_bad_box_lists_are_one_clear_error_and_change_nothing(tracker, clip, boxes, words):
    tracker.initialize(clip[0], OTHER)
    with pytest.raises(InputError) as err:
        tracker.initialize_many(clip[0], boxes)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert tracker.num_targets == 1 and tracker.track(clip[1]) == build_and_track(tracker, clip, OTHER)


def test_box_arrays_and_lists_start_the_same_targets(tracker, clip):
    expected = None
    for boxes in ([BOX, OTHER], np.array([BOX, OTHER]), torch.tensor([BOX, OTHER]), (b for b in [BOX, OTHER])):
        tracker.initialize_many(clip[0], boxes)
        got = [[r.box, r.score] for r in tracker.track_many(clip[1])]
        assert expected is None or got == expected
        expected = got


def test_track_before_initialize_is_a_clear_error(tiny_ckpt, clip):
    for pre in ("host", "device"):
        fresh = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
        for call in (fresh.track, fresh.track_many, fresh.track_timed):
            with pytest.raises(RuntimeError, match=r"call initialize\(frame, box\).*before track"):
                call(clip[0])


def test_initialize_again_and_a_second_video_track_like_a_fresh_tracker(tracker, clip):
    video_b = [np.ascontiguousarray(f[::-1, ::-1]) for f in clip]      # another clip (the same one turned over)
    box_b = (70, 50, 30, 30)                                            # the square, turned over too
    fresh = run(build_tracker_like(tracker), video_b, box_b)
    tracker.initialize_many(clip[0], [BOX, OTHER])
    tracker.track_many(clip[1])
    tracker.initialize(clip[0], OTHER)                                  # initialise twice: the first is forgotten
    assert run(tracker, video_b, box_b) == fresh                       # one tracker, two videos


def test_removed_targets_leave_the_others_as_if_tracked_alone(tracker, clip):
    alone = run(build_tracker_like(tracker), clip, BOX)
    tracker.initialize_many(clip[0], [BOX, OTHER, (100, 60, 20, 30)])
    tracker.remove_target(-1)                                           # the last, as for lists
    tracker.remove_target(1)
    assert tracker.num_targets == 1
    assert [[*r.box, r.score] for f in clip[1:] for r in tracker.track_many(f)] == alone


@pytest.mark.parametrize("index, error, words", [
    (3, IndexError, "target index 3 is out of range: 2 targets tracked (0..1)"),
    (-3, IndexError, "target index -3 is out of range"),
    (1.0, TypeError, "target index 1.0 must be an int (0-based, in initialisation order): 2 targets tracked (0..1)"),
    ("0", TypeError, "must be an int"),
    (True, TypeError, "target index True must be an int, not a bool (0-based, in initialisation order): 2 targets "
     "tracked (0..1)"),                                                 # an int to Python: it removed target 1
    (np.True_, TypeError, "must be an int, not a bool"),
    (torch.tensor(False), TypeError, "must be an int, not a bool"),
])
def test_removing_a_target_that_is_not_there_changes_nothing(tracker, clip, index, error, words):
    tracker.initialize_many(clip[0], [BOX, OTHER])
    with pytest.raises(error) as err:
        tracker.remove_target(index)
    assert words in str(err.value)
    assert tracker.num_targets == 2 and len(tracker.templates) == 2


def test_extension_memory_follows_removed_targets(tiny_ckpt, clip):
    """With an extension on, each target keeps its own memory: removing the last by -1 forgets the last one's."""
    for pre in ("host", "device"):
        t = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre, ext={"SIZE_LR": 0.6})
        t.initialize_many(clip[0], [BOX, OTHER])
        t.remove_target(-1)
        assert len(t.extensions.memory) == t.num_targets == 1
        solo = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre, ext={"SIZE_LR": 0.6})
        assert [[*b, sc] for b, sc in map(t.track, clip[1:])] == run(solo, clip, BOX)


def test_every_target_removed_then_added_again(tracker, clip):
    tracker.initialize(clip[0], BOX)
    tracker.remove_target(0)
    assert tracker.track_many(clip[1]) == []                            # nothing to track: no result, no error
    assert tracker.track_timed(clip[1])[0] == []
    with pytest.raises(RuntimeError, match="no target left to track"):
        tracker.track(clip[1])
    tracker.add_targets(clip[0], [])                                    # nothing to add: nothing changes
    assert tracker.num_targets == 0
    tracker.add_targets(clip[0], [BOX])
    assert tracker.track(clip[1]) == build_and_track(tracker, clip, BOX)


@pytest.mark.parametrize("none", [[], (), np.zeros((0, 4)), torch.zeros((0, 4))])
def test_adding_no_boxes_changes_nothing(tracker, clip, none):
    tracker.initialize(clip[0], BOX)
    tracker.add_targets(clip[0], none)                                  # [] and the (N, 4) array with N = 0
    assert tracker.num_targets == 1 and tracker.track(clip[1]) == build_and_track(tracker, clip, BOX)


@pytest.mark.parametrize("boxes, words", [
    (np.zeros((0,)), "boxes of shape (0,) is not a list of boxes"),   # a 1-D array is one box, as for initialize_many
    (np.zeros((0, 3)), "boxes of shape (0, 3) is not a list of boxes"),
    (torch.zeros((0, 4, 2)), "boxes of shape (0, 4, 2) is not a list of boxes"),
    (np.array(BOX), "one box"),
    (list(BOX), "is one box, not a list of boxes"),
    ({}, "boxes is a dict ({}); pass a list of boxes"),
    ({"a": BOX}, "boxes is a dict ({'a': (60, 40, 30, 30)}); pass a list of boxes"),
])
def test_adding_what_is_not_a_list_of_boxes_is_an_error_as_for_initialize_many(tracker, clip, boxes, words):
    tracker.initialize(clip[0], BOX)
    with pytest.raises(InputError) as err:
        tracker.add_targets(clip[0], boxes)
    assert words in str(err.value), str(err.value)
    assert tracker.num_targets == 1


def test_a_box_of_a_tensor_that_requires_grad_is_read_without_torch_warning():
    """float() of a tensor that requires grad warned ('Converting a tensor with requires_grad=True to a scalar')."""
    import warnings

    torch = pytest.importorskip("torch")
    from droptrack.runtime.inputs import as_box

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert as_box(torch.tensor([60.0, 40.0, 30.0, 30.0], requires_grad=True)) == [60.0, 40.0, 30.0, 30.0]
