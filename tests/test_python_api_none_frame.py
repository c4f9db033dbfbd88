"""A frame of None (cv2.VideoCapture.read() past the end or on a decode error, cv2.imread of a missing file) is an
InputError that says no frame was read and what to check, with the tracker unchanged: before, it said 'frame is a
NoneType, not an image' and suggested converting a PIL image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from droptrack import InputError, load_tracker
from droptrack.runtime.build import build_tracker

BOX = (20, 16, 24, 20)


@pytest.fixture(scope="module", params=["load_tracker", "device"])
def tracker(request, tiny_ckpt):
    if request.param == "load_tracker":
        return load_tracker(str(tiny_ckpt), channels="bgr")
    return build_tracker(str(tiny_ckpt), None, "cpu", pre="device", channels="bgr")


def test_reading_past_the_end_of_a_video_is_named(tracker, tmp_path):
    rng = np.random.default_rng(5)
    path = str(tmp_path / "clip.avi")
    out = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (80, 64))
    for _ in range(3):
        out.write(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8))
    out.release()
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(bgr)
    assert len(frames) == 3 and bgr is None                # what a loop that forgets to check ok passes on
    tracker.initialize(frames[0], BOX)
    expected = [tracker.track(f) for f in frames[1:]]
    tracker.initialize(frames[0], BOX)
    tracker.track(frames[1])
    for call in (lambda: tracker.track(bgr), lambda: tracker.track_many(bgr), lambda: tracker.preprocess(bgr),
                 lambda: tracker.initialize(bgr, BOX), lambda: tracker.add_targets(bgr, [BOX])):
        with pytest.raises(InputError, match=r"^frame is None, not an image: no frame was read \(cv2\.VideoCapture"
                                             r"\.read\(\) returns \(False, None\) past the end .*check ok"):
            call()
    assert tracker.num_targets == 1
    assert tracker.track(frames[2]) == expected[1]          # nothing changed
