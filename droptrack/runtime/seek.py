"""`dt run VIDEO --start N`: land on frame N with one seek instead of decoding every frame before it, where the
landing can be checked to be exact.

OpenCV's CAP_PROP_POS_FRAMES seek turns N into a time at the container's nominal rate, so it misses in files with
variable frame times or dropped (null) frames. The check does not trust that arithmetic: the container's packets are
read without decoding (OpenCV's raw mode, CAP_PROP_FORMAT -1), their times sorted into presentation order, and the
frame the seek landed on must lie as far after frame 0 as the N-th of them lies after the first. Where frame 0 does
not decode, the first frame that does stands in for it (the k-th, after k failed reads, its time saying no frame was
dropped without one); OpenCV's seek then counts frames from it, so N - k is asked for. Anything else (no raw mode,
packets without times, no decodable frame before N, a damaged frame N, another time) leaves the caller to decode
forward from 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from droptrack.videofiles import DAMAGED_RUN, frames_lost

SEEK_FROM = 32     # below it, decoding the frames before --start costs about what a seek and its check cost
REORDER = 16       # packets read past N: frames stored ahead of their display (B-frames) are all among them
SLACK = 0.25       # of a frame interval: how far the landed frame's time may sit from the expected one


def packet_times(path: Path, count: int) -> list[float] | None:
    """Times (ms) of the first `count` video packets of `path`, demuxed without decoding (None: no raw mode)."""
    import cv2

    raw = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_FORMAT, -1])
    try:
        if not raw.isOpened() or raw.get(cv2.CAP_PROP_FORMAT) != -1:
            return None
        times = []
        while len(times) < count and raw.grab():
            times.append(raw.get(cv2.CAP_PROP_POS_MSEC))
        return times
    finally:
        raw.release()


def land_on(cap: Any, path: Path, start: int, fps: float | None) -> np.ndarray | None:
    """Seek `cap`, just opened on `path`, to frame `start`: that frame's BGR image when the seek is exact (the next
    read gives frame start + 1), else None, and `cap` then stands anywhere: the caller reopens the file."""
    import cv2

    if start < SEEK_FROM or fps is None:
        return None
    ok, img = cap.read()   # frame 0's time, as the frame-by-frame decode reports it (the decoder may lag packets)
    failed = 0   # frames before the first that decodes (a damaged frame 0: it stands in for frame 0)
    while not ok or img is None:
        failed += 1
        if failed >= min(start, DAMAGED_RUN):   # as many as the decode forward passes over
            return None
        ok, img = cap.read()
    first = cap.get(cv2.CAP_PROP_POS_MSEC)
    if failed and frames_lost(fps, None, first / 1000.0, failed) != failed:
        return None   # its time says the decoder dropped frames without a failed read: which one it is is unknown
    times = packet_times(path, start + REORDER)
    if times is None or len(times) <= start:
        return None
    times.sort()
    if not all(b > a for a, b in zip(times, times[1:])):   # packets without times (or with one twice): unknown
        return None
    want = first + times[start] - times[failed]
    if not cap.set(cv2.CAP_PROP_POS_FRAMES, start - failed):   # OpenCV counts from the first frame it decoded
        return None
    ok, img = cap.read()
    if not ok or img is None or abs(cap.get(cv2.CAP_PROP_POS_MSEC) - want) > SLACK * 1000.0 / fps:
        return None
    return img


def known_end(path: Path, start: int, header: int | None) -> int | None:
    """The frame count of `path` where it surely ends before frame `start` (--start past the end, refused before any
    decoding): the container's header says so and its packets, demuxed without decoding, number the same. None
    where it may go on or one of the two is missing or disagrees (a header counting dropped frames): decode on."""
    if header is None or header > start:
        return None
    times = packet_times(path, start + 1)
    return header if times is not None and len(times) == header else None
