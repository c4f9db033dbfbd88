"""Live sources hand out their newest frame (runtime.readers.newest): a busy tracker skips stale frames, counts
them, keeps reconnect marks, and still sees the source's errors. With --every-frame (runtime.readers.queued) every
frame comes, in order, and a stop during a stall ends the run as well."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from droptrack.errors import SourceError
from droptrack.runtime.reconnect import Outage
from droptrack.runtime.sinks import TargetState, frame_record
from droptrack.runtime.readers import newest
from droptrack.runtime.sources import Frame

WAIT_S = 10.0


def frame(i: int, gap: Outage | None = None) -> Frame:
    return Frame(i, float(i), np.zeros((2, 2, 3), np.uint8), gap)


def test_a_busy_consumer_gets_the_newest_frame_and_the_count_it_missed():
    """Frames 1-5 arrive while the consumer is busy: it gets 5 (4 skipped); frame 6 (a reconnect) and 7 arrive while
    it is busy again: it gets 7, 1 skipped, carrying 6's reconnect mark; then the source ends."""
    go, burst, go2, done = (threading.Event() for _ in range(4))

    def camera():
        yield frame(0)
        assert go.wait(WAIT_S)
        yield from (frame(i) for i in range(1, 6))
        burst.set()
        assert go2.wait(WAIT_S)
        yield frame(6, Outage(1.5, 2))
        yield frame(7)
        done.set()

    it = newest(camera())
    first = next(it)
    assert (first.index, first.skipped) == (0, 0)
    go.set()
    assert burst.wait(WAIT_S)
    second = next(it)
    assert (second.index, second.skipped, second.gap) == (5, 4, None)
    go2.set()
    assert done.wait(WAIT_S)
    third = next(it)
    assert (third.index, third.skipped, third.gap) == (7, 1, Outage(1.5, 2))
    assert next(it, None) is None
    rec = frame_record(third, [TargetState([0.0, 0.0, 1.0, 1.0], 0.9, False)])
    assert rec["skipped"] == 1 and rec["reconnect"] == {"gap_s": 1.5, "attempts": 2}
    assert "skipped" not in frame_record(first, [])


def test_the_source_error_comes_after_the_frames_before_it():
    def camera():
        yield frame(0)
        yield frame(1)
        raise SourceError("camera 3 stopped delivering frames")

    got = []
    with pytest.raises(SourceError, match="stopped delivering"):
        for f in newest(camera()):
            got.append(f.index)
    assert got[-1] == 1 and got == sorted(set(got))


def endless_camera(closed: threading.Event):
    """Frames 0, 1, 2, ... for ever; `closed` is set when the generator is closed."""
    try:
        i = 0
        while True:
            yield frame(i)
            i += 1
    finally:
        closed.set()


def test_closing_stops_the_reader():
    stopped = threading.Event()
    it = newest(endless_camera(stopped))
    a, b = next(it), next(it)
    assert b.index > a.index
    it.close()
    assert stopped.wait(WAIT_S)


class StalledCapture:
    """cv2.VideoCapture stand-in for a stream that stalls: one frame, then a read() that blocks until `unblock`;
    `release` records whether it came while a read was inside the capture (what crashed OpenCV, exit 139)."""

    def __init__(self):
        self.calls, self.inside, self.unblock = 0, threading.Event(), threading.Event()
        self.released_during_read = None

    def read(self):
        self.calls += 1
        if self.calls == 1:
            return True, np.zeros((4, 4, 3), np.uint8)
        self.inside.set()
        self.unblock.wait(WAIT_S)
        self.inside.clear()
        return False, None

    def get(self, prop):
        return 0.0

    def release(self):
        self.released_during_read = self.inside.is_set()


def test_a_stalled_read_is_never_released_under_it():
    # dt run on a stream that stalls, stopped twice: the reader thread is still inside read() when the run's exit
    # closes the source; the capture is released only once no read is in it (or left to the process's exit)
    from droptrack.runtime import capture
    from droptrack.runtime.sources import CaptureSource

    cap = StalledCapture()
    src = CaptureSource(cap, "stream tcp://x", live=True)
    frames = newest(src, join_s=0.1)
    assert next(frames).index == 0
    assert cap.inside.wait(WAIT_S)   # the reader thread now blocks in read()
    frames.close()                   # the consumer stops (a signal): the thread is not joined within 0.1 s
    src.close()                      # the run's exit stack
    assert cap.released_during_read is None   # not released under the read
    cap.unblock.set()
    src.close()                      # once the read returned, a close releases it
    assert cap.released_during_read is False
    assert capture.RELEASE_WAIT_S <= 2.0   # a stop is not held up for long


def test_a_stop_ends_the_wait_for_a_stalled_sources_next_frame():
    # a signal while a stream stalls (or reconnects for --reconnect-timeout S): the run stopped only when the read
    # timed out or the whole budget was spent, and then as an error (exit 2); now the wait ends on the stop
    release = threading.Event()
    asked = {"stop": False}

    def stalling():
        yield frame(0)
        release.wait(WAIT_S)   # no next frame
        yield frame(1)

    frames = newest(stalling(), join_s=0.1, stopped=lambda: asked["stop"], poll_s=0.05)
    assert next(frames).index == 0
    threading.Timer(0.2, lambda: asked.__setitem__("stop", True)).start()
    import time
    t0 = time.monotonic()
    assert next(frames, None) is None   # the frames end: the loop then reports the signal
    assert time.monotonic() - t0 < 2.0
    release.set()


@pytest.mark.skipif(not hasattr(__import__("signal"), "setitimer"), reason="needs SIGALRM")
def test_a_signal_while_a_source_connects_stops_at_once_and_the_late_source_is_closed():
    import signal
    import time

    from droptrack.runtime.readers import opened_in_thread
    from droptrack.runtime.source_base import Source

    connected, closed = threading.Event(), threading.Event()

    class Late(Source):
        name = "stream tcp://x"

        def __iter__(self):
            return iter(())

        def close(self):
            closed.set()

    def connecting() -> Source:   # OpenCV's open, blocked until its timeout
        connected.wait(WAIT_S)
        return Late()

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            opened_in_thread(connecting, poll_s=0.05)
        assert time.monotonic() - t0 < 2.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    connected.set()   # the open returns after all: that thread closes what it opened
    assert closed.wait(WAIT_S)
    assert opened_in_thread(lambda: Late()).name == "stream tcp://x"   # and a plain open returns the source

    def refused() -> Source:
        raise SourceError("camera 9 could not be opened")

    with pytest.raises(SourceError, match="camera 9"):
        opened_in_thread(refused)


def test_a_live_read_keeps_opencvs_log_quiet():
    # "[ WARN:0@36.033] global cap_ffmpeg_impl.hpp:435 ... Stream timeout triggered" reached stderr from a stalled
    # stream's read; the open was quiet, the reads were not
    import cv2

    from droptrack.runtime.sources import CaptureSource

    log = cv2.utils.logging
    seen = []

    class Logged:
        def __init__(self):
            self.n = 0

        def read(self):
            seen.append(log.getLogLevel())
            self.n += 1
            return (True, np.zeros((4, 4, 3), np.uint8)) if self.n == 1 else (False, None)

        def get(self, prop):
            return 0.0

        def release(self):
            pass

    before = log.getLogLevel()
    frames = iter(CaptureSource(Logged(), "stream tcp://x", live=True))
    assert next(frames).index == 0
    assert seen == [log.LOG_LEVEL_SILENT] and log.getLogLevel() == before


def test_every_frame_hands_all_frames_in_order_and_a_stop_ends_a_stall():
    # dt run --every-frame read the source inline: a signal while the stream stalled waited for its read timeout (30 s)
    # or the whole --reconnect-timeout; now the frames come from a thread and the wait ends on the stop
    import time

    from droptrack.runtime import readers

    release = threading.Event()

    def stalling():
        yield from (frame(i) for i in range(3))
        release.wait(30)   # no next frame
        yield frame(3)

    got: list[Frame] = []
    t0 = time.monotonic()
    for f in readers.queued(stalling(), join_s=0.1, stopped=lambda: len(got) >= 3, poll_s=0.05):
        time.sleep(0.1)   # a busy tracker: the frames wait for it, none is skipped
        got.append(f)
    assert [(f.index, f.skipped) for f in got] == [(0, 0), (1, 0), (2, 0)]
    assert time.monotonic() - t0 < 2.0
    release.set()


def test_every_frame_reraises_the_source_error_after_every_frame_before_it():
    import time

    from droptrack.runtime import readers

    def camera():
        yield from (frame(i) for i in range(6))
        raise SourceError("camera 3 stopped delivering frames")

    got = []
    with pytest.raises(SourceError, match="stopped delivering"):
        for f in readers.queued(camera(), depth=2):
            time.sleep(0.02)
            got.append(f.index)
    assert got == list(range(6))


def test_closing_the_every_frame_reader_stops_its_thread():
    import time

    from droptrack.runtime import readers

    closed = threading.Event()
    before = threading.active_count()
    it = readers.queued(endless_camera(closed), depth=2)
    assert [next(it).index for _ in range(5)] == list(range(5))
    time.sleep(0.1)   # the reader fills the queue and waits for room
    it.close()
    assert closed.wait(WAIT_S)   # the source is closed in the reader thread as it ends
    end = time.monotonic() + WAIT_S
    while threading.active_count() > before and time.monotonic() < end:
        time.sleep(0.01)
    assert threading.active_count() == before


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_dt_run_every_frame_stops_on_a_signal_while_the_stream_stalls(tiny_ckpt, tmp_path, monkeypatch, sig, code):
    """dt run --every-frame on a stream that sends 3 frames and stalls: a signal then ends it within ~1.5 s, every
    frame tracked (none skipped), exit 130 / 143; it waited for the stalled read to return."""
    import json
    import os
    import signal
    import time

    from helpers import cli

    from droptrack.runtime import sources
    from droptrack.runtime.source_base import Source

    release, sent, lock, signum = threading.Event(), [], threading.Lock(), getattr(signal, sig)
    default = signal.getsignal(signum)

    class Stalling(Source):
        name, live = "stream rtsp://127.0.0.1:9/cam", True

        def __iter__(self):
            for i in range(3):
                yield Frame(i, float(i), np.full((48, 64, 3), 40 * i, np.uint8))
            release.wait(30)   # a stalled read

        def close(self):
            release.set()

    monkeypatch.setattr(sources, "open_source", lambda *a, **k: Stalling())
    part = tmp_path / "b.jsonl.part"

    def send() -> None:   # once the 3 frames are tracked (dt run's handlers are in by then)
        end = time.monotonic() + 120
        while time.monotonic() < end and not release.is_set():
            if part.exists() and len(part.read_text().splitlines()) == 3:
                time.sleep(0.3)
                with lock:   # never to pytest itself: only while dt run's handler is in
                    if not release.is_set() and signal.getsignal(signum) is not default:
                        sent.append(time.monotonic())
                        os.kill(os.getpid(), signum)
                return
            time.sleep(0.02)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        r = cli("run", "rtsp://127.0.0.1:9/cam", "-m", tiny_ckpt, "--device", "cpu", "--init", "20,10,16,16",
                "--every-frame", "--jsonl", tmp_path / "b.jsonl")
        ended = time.monotonic()
    finally:
        with lock:
            release.set()
        sender.join(130)
    assert sent, f"dt run ended before the signal: {r.output}"
    assert r.exit_code == code and "Traceback" not in r.output, r.output
    assert ended - sent[0] < 4.5   # not after the stalled read's 30 s
    records = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert [rec["frame"] for rec in records] == [0, 1, 2] and not any("skipped" in rec for rec in records)
