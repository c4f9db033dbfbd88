"""Bad argument values to the Python API are ValueErrors, as Python's own are: a caller's `except ValueError` around
`initialize` / `track` catches droptrack's InputError (and its misuse subtypes stay the RuntimeError / IndexError /
TypeError they were). A box passed as a dict is refused on one line naming the fix: iterating it read its keys as
the numbers ({0: x, 1: y, 2: w, 3: h} tracked the box (0, 1, 2, 3), {'x': ...} was 'not four numbers'); so is
a list given to the public `infer` stage (an AttributeError before)."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import (ArgumentTypeError, DropTrackError, InputError, TargetIndexError,
                              TrackerStateError)
from droptrack.runtime.run import build_tracker
from test_python_api_inputs import BOX, clip  # noqa: F401 - shared fixture


@pytest.fixture(scope="module")
def tracker(tiny_ckpt):
    return build_tracker(str(tiny_ckpt), None, "cpu")


def test_input_errors_are_value_errors_and_keep_their_other_bases():
    assert issubclass(InputError, ValueError) and issubclass(InputError, DropTrackError)
    assert issubclass(TrackerStateError, RuntimeError) and issubclass(TargetIndexError, IndexError)
    assert issubclass(ArgumentTypeError, TypeError)


def test_a_callers_except_value_error_catches_a_bad_frame_and_tracking_goes_on(tracker, clip):
    tracker.initialize(clip[0], BOX)
    expected = tracker.track(clip[1])
    tracker.initialize(clip[0], BOX)
    try:
        tracker.track(clip[1].astype(np.float32) / 255)
    except ValueError as exc:
        assert "astype(np.uint8)" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("a float frame was tracked")
    assert tracker.track(clip[1]) == expected                  # the refused frame changed nothing


@pytest.mark.parametrize("box", [{"x": 60, "y": 40, "w": 30, "h": 30}, {0: 60, 1: 40, 2: 30, 3: 30}])
def test_a_box_given_as_a_dict_is_refused_naming_the_fix(tracker, clip, box):
    for call in (lambda: tracker.initialize(clip[0], box), lambda: tracker.initialize_many(clip[0], [box, BOX])):
        with pytest.raises(InputError) as err:
            call()
        msg = str(err.value)
        assert "is a dict" in msg and "(d['x'], d['y'], d['w'], d['h'])" in msg and "\n" not in msg


@pytest.mark.parametrize("pre", ["host", "device"])
def test_infer_on_a_list_instead_of_the_search_array_is_one_line(tiny_ckpt, clip, pre):
    t = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
    t.initialize(clip[0], BOX)
    search, factors = t.preprocess(clip[1])
    with pytest.raises(DropTrackError) as err:                 # was an AttributeError: 'list' has no attribute 'shape'
        t.infer(np.asarray(search).tolist())
    msg = str(err.value)
    assert "input 'search' is a list, not an array" in msg and "preprocess() returned" in msg and "\n" not in msg
    assert t.postprocess(t.infer(search), factors, clip[1].shape[:2])   # the tracker still works
