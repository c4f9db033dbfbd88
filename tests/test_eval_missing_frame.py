"""A benchmark sequence missing a frame fails before any of it is tracked (its error names the frame; the other
sequences go on), not after every frame before the gap: minutes of work on a long LaSOT sequence."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.data.sequence import Sequence, first_missing_frame
from droptrack.errors import DatasetError
from droptrack.eval.workers import track_sequence


class CountingTracker:
    """Counts the calls a tracker gets."""

    def __init__(self) -> None:
        self.calls = 0

    def initialize(self, frame: np.ndarray, box: np.ndarray) -> None:
        self.calls += 1

    def track(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        self.calls += 1
        return np.array([1.0, 1.0, 4.0, 4.0]), 1.0


def _sequence(folder: Path, n: int) -> Sequence:
    folder.mkdir(parents=True)
    frames = [folder / f"{i:08d}.jpg" for i in range(1, n + 1)]
    for f in frames:
        cv2.imwrite(str(f), np.full((16, 16, 3), 128, np.uint8))
    return Sequence(name="airplane-9", dataset="lasot", frames=frames, video=None, boxes=np.tile([2.0, 2, 6, 6], (n, 1)))


def test_missing_frame_fails_before_tracking(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "airplane-9" / "img", 5)
    (tmp_path / "airplane-9" / "img" / "00000004.jpg").unlink()
    tracker = CountingTracker()
    with pytest.raises(DatasetError, match=r"img/00000004\.jpg is missing"):
        track_sequence(tracker, seq)
    assert tracker.calls == 0


def test_complete_sequence_is_tracked(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "s" / "img", 3)
    assert first_missing_frame(seq.frames) is None
    tracker = CountingTracker()
    res = track_sequence(tracker, seq)
    assert tracker.calls == 3 and res.boxes.tolist() == [[2, 2, 6, 6], [1, 1, 4, 4], [1, 1, 4, 4]]
    assert first_missing_frame([tmp_path / "gone" / "00000001.jpg"]) == tmp_path / "gone" / "00000001.jpg"
