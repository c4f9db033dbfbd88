"""dt serve's live view: the newest frame, encoded once for all the viewers that ask for it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytest.importorskip("cv2", reason="the live view encodes with OpenCV")

from droptrack.runtime.sinks import TargetState  # noqa: E402
from droptrack.serve import frames  # noqa: E402


def test_viewers_asking_for_a_new_frame_together_encode_it_once(monkeypatch):
    """Every live view (two tabs of the page, scripts) asked for the new frame at the same moment, and each one that
    came before the first encode was done annotated, enlarged and JPEG-encoded it again: with 8 viewers 8 encodes
    of one frame, cores taken from the tracker. Viewers asking together now wait for the one encode and get the
    same bytes; a newer frame is encoded again."""
    calls = []
    annotate = frames.annotate

    def slow_annotate(*args):   # an encode that takes a while, as a big frame's does on a small board
        calls.append(1)
        time.sleep(0.2)
        return annotate(*args)

    monkeypatch.setattr(frames, "annotate", slow_annotate)
    latest = frames.LatestFrame()
    image = np.zeros((144, 176, 3), np.uint8)
    target = TargetState(id=0, box=[60.0, 20.0, 50.0, 60.0], score=0.9, lost=False)
    latest.publish(0, image, [target], 30.0)
    start, got = threading.Barrier(8), []

    def viewer() -> None:
        start.wait()
        got.append(latest.encode())

    threads = [threading.Thread(target=viewer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(calls) == 1 and len(got) == 8 and len({data for _, _, data in got}) == 1, len(calls)
    assert got[0][2][:2] == b"\xff\xd8"
    latest.publish(1, image, [target], 30.0)
    assert latest.encode()[:2] == (2, 1) and len(calls) == 2
