"""The Python API flags a target lost as dt run does: a result whose peak score is under the tracker's
lost_threshold (default 0.25, dt run --lost-threshold's) has lost=True; 0 disables the flag; a threshold that is
not a score is one InputError before the model loads."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack import load_tracker
from droptrack.errors import InputError
from test_python_api_inputs import BOX, clip, tracker  # noqa: F401 - shared fixtures


def _results(tracker, frames, threshold):
    tracker.lost_threshold = threshold
    tracker.initialize(frames[0], BOX)
    return [r for f in frames[1:] for r in tracker.track_many(f)]


def test_lost_is_the_score_under_the_threshold(tracker, clip):
    scores = [r.score for r in _results(tracker, clip, 0.25)]
    assert all(0 < s < 1 for s in scores)                     # sigmoid peaks times the Hann window
    assert [r.lost for r in _results(tracker, clip, 1.0)] == [True] * len(scores)    # every score is under 1
    assert [r.lost for r in _results(tracker, clip, 0.0)] == [False] * len(scores)   # 0 disables the flag
    cut = float(np.median(scores))
    assert [r.lost for r in _results(tracker, clip, cut)] == [s < cut for s in scores]


def test_load_tracker_takes_the_threshold_and_defaults_to_dt_runs():
    assert load_tracker().lost_threshold == 0.25
    assert load_tracker(lost_threshold=0.5).lost_threshold == 0.5


@pytest.mark.parametrize("bad", [25, -0.1, float("nan"), "0.3", None, True])
def test_a_threshold_that_is_not_a_score_is_one_input_error(bad):
    with pytest.raises(InputError, match="lost_threshold=.* must be a score between 0 and 1"):
        load_tracker(lost_threshold=bad)


def test_build_tracker_and_device_tracker_take_the_threshold():
    """The GPU path (build_tracker, DeviceTracker) flagged lost at 0.25 whatever the caller asked (no parameter)."""
    from droptrack import build_tracker

    tracker = build_tracker(None, None, "cpu", pre="device", lost_threshold=0.5)
    assert type(tracker).__name__ == "DeviceTracker" and tracker.lost_threshold == 0.5
    assert tracker.result([1.0, 2.0, 3.0, 4.0], 0.4).lost and not tracker.result([1.0, 2.0, 3.0, 4.0], 0.6).lost
    assert build_tracker(None, None, "cpu", pre="host", lost_threshold=0.0).lost_threshold == 0.0
    with pytest.raises(InputError, match="lost_threshold=.* must be a score"):
        build_tracker(None, None, "cpu", lost_threshold=25)
