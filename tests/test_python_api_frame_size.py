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


@pytest.mark.parametrize("kind", ["host", "device"])
def test_targets_added_in_a_frame_of_another_size_warn_and_stay_compared_with_the_running_ones(tiny_ckpt, kind):
    """Targets added in a 96x72 frame while others run in 160x120 pixels: the add warns at once, naming both sizes,
    and later 96x72 frames keep warning (the running targets' boxes are still in 160x120 pixels); the other size's
    frames stay quiet."""
    from droptrack.runtime.device_tracker import DeviceTracker
    from droptrack.runtime.tracker import load_backend

    backend = load_backend(str(tiny_ckpt), threads=1)
    tracker = load_tracker(str(tiny_ckpt), threads=1) if kind == "host" else DeviceTracker(backend, device="cpu")
    tracker.initialize(frame(160, 120), [40, 30, 40, 50])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        tracker.add_targets(frame(96, 72), [[10, 10, 30, 30]])
        added = size_warnings(record)
        tracker.track_many(frame(96, 72))
        later = size_warnings(record)[len(added):]
        tracker.track_many(frame(160, 120))
        assert len(size_warnings(record)) == len(added) + len(later)
    assert tracker.num_targets == 2
    want = "this frame is 96x72 but the targets were started in a 160x120 frame"
    assert len(added) == 1 and added[0].startswith(want), added
    assert len(later) == 1 and later[0].startswith(want), later
