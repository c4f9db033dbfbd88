"""`CaptureSource`: frames of a cv2.VideoCapture (a video file, camera, pipeline or stream), damaged frames of a file
keeping their index, live ones reopened per their `ReconnectPolicy` (`runtime.sources` describes both)."""

from __future__ import annotations

import collections
import contextlib
import statistics
import threading
import time
from typing import Any, Callable, Iterator

from droptrack.decodelog import quiet_opencv
from droptrack.errors import SourceError
from droptrack.runtime.reconnect import Outage, ReconnectPolicy, open_with_retry
from droptrack.runtime.source_base import FirstFrameDamaged, Frame, plausible_fps, Source
from droptrack.videofiles import DAMAGED_RUN, frames_lost, no_frame_reason, plausible_frame_count

LIVE_RETRIES = 5   # consecutive failed reads before a live source counts as stopped
STEPS = 32   # the last times between good file frames whose median spaces the frames lost to damage
RELEASE_WAIT_S = 1.0   # how long `close` waits for a read in another thread (a stalled stream's) to return


class CaptureSource(Source):
    """A cv2.VideoCapture (video file, camera, pipeline or stream); live ones reopen through `opener`."""

    def __init__(self, cap, name: str, live: bool, opener: Callable[[], Any] | None = None,
                 policy: ReconnectPolicy | None = None, hint: str = "check the device/stream"):
        import cv2

        self.cap, self.name, self.live = cap, name, live
        self._reading = threading.Lock()   # held by a read: `close` never releases the capture under it
        self.opener, self.policy, self.hint = opener, policy or ReconnectPolicy(), hint
        self.fps = plausible_fps(cap.get(cv2.CAP_PROP_FPS))
        # a header's word: the frames may end earlier or go on (NaN, negative or absurd: unknown)
        self.num_frames = None if live else plausible_frame_count(cap.get(cv2.CAP_PROP_FRAME_COUNT))

    @property
    def reconnects(self) -> bool:
        """Whether a drop is retried (live, with an opener and an enabled policy)."""
        return self.live and self.opener is not None and self.policy.enabled

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        pending, self.landed = self.landed, None   # a seek read frame `start` already: the count goes on from it
        i, misses, damaged = (0 if pending is None else self.start), 0, 0   # damaged: failed reads since a good frame
        outage_start, attempts, last_ts = None, 0, None   # the outage in progress; the file's last good frame time
        steps: collections.deque = collections.deque(maxlen=STEPS)   # times between consecutive good file frames
        last_good = time.monotonic()
        while True:
            if pending is not None:
                ok, img = True, pending
            else:
                with self._reading, quiet_opencv() if self.live else contextlib.nullcontext():
                    ok, img = self.cap.read()   # a live stream's timeout is logged: our error or note says it
            pending = None
            if not ok or img is None:
                if not self.live and damaged < DAMAGED_RUN:   # a damaged frame, or the end of the file
                    damaged += 1
                    continue
                if self.live and i > 0 and misses < LIVE_RETRIES:
                    misses += 1
                    time.sleep(0.01 * misses)
                    continue
                if self.reconnects:
                    self.cap.release()
                    outage_start = time.monotonic() if outage_start is None else outage_start
                    self.cap, attempts = open_with_retry(self.opener, self.policy, self.name, self.hint,
                                                         started=outage_start, done=attempts)
                    misses = 0
                    continue
                if i == 0:
                    why = ("delivered no frame; check the device/stream is streaming" if self.live
                           else no_frame_reason(self.cap))
                    raise SourceError(f"{self.name} opened but {why}")
                if self.live:
                    raise SourceError(f"{self.name} stopped delivering frames after {i} frames "
                                      f"({LIVE_RETRIES} retries); check the cable/network and restart, or "
                                      "pass --reconnect N / --reconnect-timeout S")
                return
            ts = time.time() if self.live else self._media_time(last_ts, damaged)
            if damaged:   # the decoder refused frames between good ones: indices stay the file's
                step = statistics.median(steps) if len(steps) >= 2 else None   # the file's own frame spacing
                damaged = frames_lost(self.fps, last_ts, ts, damaged, step)   # and the ones it dropped without a word
                if i == 0 and not self.start:
                    cut = f"{ts:.3f}".rstrip("0").rstrip(".") if 0 < ts < float("inf") else "1"
                    raise FirstFrameDamaged(f"{self.name}: its first {damaged} frame(s) could not be decoded "
                                            "(damaged); the targets are set on the first frame: cut them off, e.g. "
                                            f"`ffmpeg -ss {cut} -i IN -c:v mpeg4 -q:v 2 OUT.mp4`", damaged)
                for _ in range(damaged):
                    if self.keep_missing:
                        yield Frame(i, float("nan"), None)
                    i += 1
                damaged = 0
            elif not self.live and last_ts is not None and ts > last_ts:
                steps.append(ts - last_ts)
            misses = 0
            now = time.monotonic()
            gap = None if outage_start is None else Outage(round(now - last_good, 3), attempts)
            outage_start, attempts, last_good, last_ts = None, 0, now, ts
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB if img.ndim == 2 else cv2.COLOR_BGR2RGB)
            yield Frame(i, ts, img, gap)
            i += 1

    def _media_time(self, before: float | None, failed: int) -> float:
        """The media time (s) of the file frame just read, after `failed` failed reads since the good frame at
        `before` s. OpenCV reports 0 for a frame whose packet carries no time (the decoder's last, delayed frame of
        an AVI with B-frames, as Megamind.avi's, where ffprobe shows N/A): a time not after the previous frame's is
        taken as that one plus the frames since at the file's rate (NaN at an unknown rate), so --jsonl times and
        --loop's offsets never run backwards."""
        import cv2

        ts = self.cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if before is None or ts > before:
            return ts
        return before + (failed + 1) / self.fps if self.fps else float("nan")

    def close(self) -> None:
        """Release the capture, unless a read in another thread (`readers.newest` on a stalled stream) is still
        inside it after RELEASE_WAIT_S: releasing under it freed what the read was using (a crash, exit 139, on a
        second SIGTERM); the process's exit frees it then."""
        if self._reading.acquire(timeout=RELEASE_WAIT_S):
            try:
                self.cap.release()
            finally:
                self._reading.release()
