"""A frame of another size than the one the targets were started in: `dt run` notes it at the end, and the Python API
tracked it without a word (the box, in the first frame's pixels, clipped into the smaller frame). It now warns, once
per pair of sizes, naming both; frames of the init size and a new initialize in the new size stay quiet."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from droptrack import load_tracker
from droptrack.errors import FrameSizeWarning


def frame(w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(w * h)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def size_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, FrameSizeWarning)]


@pytest.mark.parametrize("how", ["track", "track_many", "track_timed", "preprocess"])
def test_a_frame_of_another_size_warns_naming_both_sizes(tiny_ckpt, how):
    tracker = load_tracker(str(tiny_ckpt), threads=1)
    tracker.initialize(frame(160, 120), [40, 30, 40, 50])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        getattr(tracker, how)(frame(160, 120))
        assert size_warnings(record) == []
        getattr(tracker, how)(frame(96, 72))
    said = size_warnings(record)
    assert len(said) == 1 and said[0].startswith("this frame is 96x72 but the targets were started in a 160x120 "
                                                 "frame"), said


def test_initializing_again_in_the_new_size_is_quiet(tiny_ckpt):
    tracker = load_tracker(str(tiny_ckpt), threads=1)
    tracker.initialize(frame(160, 120), [40, 30, 40, 50])
    tracker.initialize(frame(96, 72), [20, 20, 30, 30])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        tracker.track(frame(96, 72))
    assert size_warnings(record) == []
