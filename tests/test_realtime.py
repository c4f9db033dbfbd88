"""Latency-aware evaluation (droptrack.eval.realtime) against the LAE benchmark's worked example and hand-made
schedules."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import InputError
from droptrack.eval.realtime import RealTime, next_frame, scored_boxes
from droptrack.eval.workers import track_sequence


class Frames:
    """A sequence whose frame i is the number i; the box of frame 0 is [0, 0, 1, 1]."""

    def __init__(self, n: int):
        self.n, self.boxes, self.name = n, np.array([[0.0, 0.0, 1.0, 1.0]] * n), "frames"

    def __len__(self) -> int:
        return self.n

    def iter_frames(self):
        return iter(range(self.n))


class Echo:
    """A tracker whose box of frame i is [i, 0, 1, 1]; it records the frames it ran on."""

    def __init__(self):
        self.seen: list[int] = []

    def initialize(self, frame, box) -> None:
        self.seen.append(frame)

    def track(self, frame):
        self.seen.append(frame)
        return [float(frame), 0.0, 1.0, 1.0], 1.0


def run(n: int, fps: float, latency_ms: float):
    tracker = Echo()
    res = track_sequence(tracker, Frames(n), realtime=RealTime(fps, latency_ms))
    return tracker.seen, res.boxes[:, 0].astype(int).tolist(), res.times, res.processed


def test_the_lae_worked_example():
    """LAE's example: 30 FPS world frames 0-9, processed 0, 2, 5, 8; frame i scored with psi(i) =
    0,0,0,0,0,0,2,2,2,5. A constant latency of 2.8 frame periods produces exactly that schedule."""
    seen, psi, times, processed = run(10, 30.0, 2.8 / 30 * 1000)
    assert seen == [0, 2, 5, 8] and processed == 4
    assert psi == [0, 0, 0, 0, 0, 0, 2, 2, 2, 5]
    assert [i for i, t in enumerate(times) if t > 0] == [0, 2, 5, 8]       # skipped frames cost 0 s


def test_a_tracker_faster_than_the_stream_reports_the_previous_frame():
    seen, psi, _, processed = run(6, 30.0, 1.0)
    assert seen == [0, 1, 2, 3, 4, 5] and processed == 6
    assert psi == [0, 0, 1, 2, 3, 4]


def test_a_box_finished_on_the_arrival_instant_counts():
    """Latency of exactly one frame period (float sums included): every frame runs, each one frame late."""
    seen, psi, _, _ = run(40, 25.0, 40.0)
    assert seen == list(range(40)) and psi == [0] + list(range(39))


def test_next_frame_and_scoring_by_hand():
    assert next_frame(0.1, 30.0, 0) == 3 and next_frame(0.01, 30.0, 0) == 1 and next_frame(0.2, 10.0, 5) == 6
    got = scored_boxes(4, [0.05, 0.25], [[7, 0, 1, 1], [9, 0, 1, 1]], 10.0, [0, 0, 1, 1])
    assert got[:, 0].tolist() == [0, 7, 7, 9]


def test_prediction_moves_the_box_at_the_last_two_boxes_centre_velocity():
    """Boxes of frames 0 and 2 (finished at 0.1 s and 0.25 s, 10 FPS): centres (0.5, 0.5) and (4.5, 1.5) with the
    second box 2x2, so 2 px/frame in x and 0.5 in y; frame 3 gets that box one frame on, frame 4 two frames on."""
    got = scored_boxes(5, [0.1, 0.25], [[0, 0, 1, 1], [3.5, 0.5, 2, 2]], 10.0, [0, 0, 1, 1], frames=[0, 2])
    np.testing.assert_allclose(got, [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [5.5, 1.0, 2, 2], [7.5, 1.5, 2, 2]])
    pred = track_sequence(Echo(), Frames(6), realtime=RealTime(30.0, 1.0, predict=True)).boxes
    assert pred[:, 0].tolist() == [0, 0, 2, 3, 4, 5]      # a target moving 1 px/frame: the lag is predicted away


@pytest.mark.parametrize("fps, latency", [(0, None), (-30, None), (float("nan"), None), (30, 0), (30, float("inf")),
                                          (30, 1e-300),   # recorded as 0.000000 s: a frame not run
                                          (1e-9, None)])   # frame i's own box counted as finished on its arrival
def test_impossible_settings_are_one_line_errors(fps, latency):
    with pytest.raises(InputError, match="--realtime-fps|--latency-ms"):
        RealTime(fps, latency).check()


def test_a_fixed_latency_is_the_recorded_time_of_the_frames_run():
    """--latency-ms simulates the target device: its latency, not this machine's time, is what each processed frame
    records in `_time.txt`, so the FPS beside the scores is the simulated tracker's (it read this machine's 50 FPS for
    a row scored as a 10 FPS tracker, and 1354 FPS for --latency-ms 1e300)."""
    _, _, times, _ = run(10, 30.0, 100.0)
    assert np.flatnonzero(times).tolist() == [0, 3, 6, 9]
    np.testing.assert_array_equal(times[[0, 3, 6, 9]], [0.1] * 4)
    _, _, measured, _ = run(10, 30.0, None)   # no --latency-ms: the time measured here
    assert (measured > 0).all() and (measured < 0.1).all()


def test_huge_rates_and_latencies_skip_every_later_frame_without_overflow():
    """A stream so fast that every frame has arrived before the first box is ready: the tracker runs on frame 0 only
    and every frame is scored with the initial box (--realtime-fps 1e308 --latency-ms 1e300 was an OverflowError)."""
    assert next_frame(1e305, 1e308, 0) > 10 ** 18
    for fps, latency in ((1e9, None), (1e308, 1e300)):
        seen, psi, _, processed = run(6, fps, latency)
        assert seen == [0] and psi == [0] * 6 and processed == 1
