"""Frame readers in a background thread: files decode ahead (`prefetch`), live sources hand out their newest frame
(`newest`: a tracker slower than the camera skips stale frames, counted in `Frame.skipped`, instead of falling
further behind a queue) or, with --every-frame, every frame in order (`queued`)."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import threading
import warnings
from typing import Any, Callable, Iterable, Iterator

from droptrack.decodelog import quiet_opencv
from droptrack.runtime.seek import SEEK_FROM, land_on
from droptrack.runtime.sources import CaptureSource, Frame, Source
from droptrack.videofiles import apply_rotation

LOOKAHEAD = 50   # frames read past a damaged --start frame for one that decodes (the error's hint)


def prefetch(frames: Iterable[Frame], depth: int = 2) -> Iterator[Frame]:
    """Decode ahead in a background thread (OpenCV's decode releases the GIL, so it overlaps inference): `queued`
    for files and folders. Errors of the source are re-raised in the consumer; closing the generator stops the
    thread."""
    return queued(frames, depth, name="droptrack-prefetch")


def queued(frames: Iterable[Frame], depth: int = 2, join_s: float = 5.0, stopped: Callable[[], bool] = lambda: False,
           poll_s: float = 0.2, name: str = "droptrack-queued") -> Iterator[Frame]:
    """Every frame of `frames`, in order, read in a background thread up to `depth` ahead (a full queue holds the
    reader back, as reading inline does): files decode ahead, a live source with --every-frame keeps them all.

    Errors of the source are re-raised after the frames read before them; closing the generator stops the thread;
    `stopped()` true ends the frames while it waits for one (see `newest`).
    """
    pending: collections.deque[Frame] = collections.deque()

    def offer(f: Frame) -> bool:
        if len(pending) >= depth:
            return False
        pending.append(f)
        return True

    return _handed(frames, offer, lambda: pending.popleft() if pending else None, name, join_s, stopped, poll_s)


def opened_in_thread(open_source: Callable[[], Source], poll_s: float = 0.1) -> Source:
    """`open_source()` run in a background thread and waited for in short steps, so that a signal stops a camera or
    stream still connecting at once (OpenCV's open blocks in C up to its 30 s timeout, where no Python signal handler
    runs: dt run took 22-27 s to stop); a source opened after the wait was given up is closed by that thread."""
    lock, done, box = threading.Lock(), threading.Event(), {}

    def worker() -> None:
        try:
            result: Any = open_source()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            result = exc
        with lock:
            given_up = box.get("given_up", False)
            box["result"] = result
            done.set()
        if given_up and isinstance(result, Source):
            result.close()

    threading.Thread(target=worker, name="droptrack-open", daemon=True).start()
    try:
        while not done.wait(poll_s):
            pass
    except BaseException:   # a signal (KeyboardInterrupt) while it connects
        with lock:
            box["given_up"] = True
            result = box.get("result")
        if isinstance(result, Source):   # opened just as the signal came
            result.close()
        raise
    if isinstance(box["result"], BaseException):
        raise box["result"]
    return box["result"]


def newest(frames: Iterable[Frame], join_s: float = 5.0, stopped: Callable[[], bool] = lambda: False,
           poll_s: float = 0.2) -> Iterator[Frame]:
    """A live source's newest frame each time one is asked for (waiting for the next one when none is new).

    A background thread reads continuously; a frame replaced before the consumer took it is dropped and counted in
    the next one's `skipped` (a reconnect `gap` it carried moves on too). Errors of the source are re-raised after
    the frames read before them; closing the generator stops the thread. `stopped()` true (a signal asked the run to
    stop) ends the frames while it waits for one: a stalled stream or a reconnect outage held a stop until its
    read timeout or its whole --reconnect-timeout, and then ended it as an error.
    """
    box: dict[str, Any] = {"frame": None, "skipped": 0}

    def offer(f: Frame) -> bool:
        old = box["frame"]
        if old is not None:
            box["skipped"] += 1
            if f.gap is None and old.gap is not None:
                f = dataclasses.replace(f, gap=old.gap)
        box["frame"] = f
        return True

    def take() -> Frame | None:
        f, n = box["frame"], box["skipped"]
        box["frame"], box["skipped"] = None, 0
        return dataclasses.replace(f, skipped=n) if f is not None and n else f

    return _handed(frames, offer, take, "droptrack-newest", join_s, stopped, poll_s)


def _handed(frames: Iterable[Frame], offer: Callable[[Frame], bool], take: Callable[[], Frame | None], name: str,
            join_s: float, stopped: Callable[[], bool], poll_s: float) -> Iterator[Frame]:
    """The reader thread of `queued` and `newest`: it files each frame read with `offer` (False: no room, it waits
    for the consumer), the consumer gets them with `take` (None: none yet), both under one lock. The source's error
    follows the frames filed before it; the source is closed in the thread (a generator's cleanup runs there)."""
    cond = threading.Condition()
    box: dict[str, Any] = {"end": False, "error": None}
    stop = threading.Event()

    source = iter(frames)

    def worker() -> None:
        try:
            for f in source:
                with cond:
                    while not stop.is_set() and not offer(f):
                        cond.wait(poll_s)
                    if stop.is_set():
                        return
                    cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            box["error"] = exc
        finally:
            getattr(source, "close", lambda: None)()
            with cond:
                box["end"] = True
                cond.notify_all()

    thread = threading.Thread(target=worker, name=name, daemon=True)
    thread.start()
    try:
        while True:
            with cond:
                while (f := take()) is None and not box["end"]:
                    if not cond.wait(poll_s) and stopped():
                        return
                cond.notify_all()   # room for the reader
            if f is not None:
                yield f
            elif box["error"] is not None:
                raise box["error"]
            else:
                return
    finally:
        stop.set()
        with cond:
            cond.notify_all()
        thread.join(timeout=min(join_s, poll_s) if stopped() else join_s)   # a stalled read returns no sooner


def first_at(frames: Iterator[Frame], start: int, name: str) -> Frame | None:
    """The frame at index `start` of a file source (a folder begins there; a video's frames before it are read and
    dropped: decoding is exact where a seek may land on a keyframe); None when the source has no frames. --start
    past the end, or onto a frame that cannot be decoded, is one error naming a --start that works."""
    from droptrack.errors import InputError

    first, seen = next(frames, None), 0
    while first is not None and first.index < start:
        seen = first.index + 1
        first = next(frames, None)
    if start and first is None:
        raise InputError(f"--start {start}: {name} has {seen} frames; pass --start {seen - 1} or less")
    if start and first is not None and first.image is None:   # name the next frame that decodes, not just N + 1
        good, last = None, first.index
        for f in itertools.islice(frames, LOOKAHEAD):
            if f.image is not None:
                good = f.index
                break
            last = f.index
        fix = (f"pass --start {good}, the next frame that decodes" if good is not None else
               "it is the last frame: pass an earlier --start" if last == first.index else
               f"none of the frames after it up to {last} decodes either: pass another --start")
        raise InputError(f"--start {start}: frame {first.index} of {name} could not be decoded (damaged); the "
                         f"targets are set on it: {fix}")
    return first


def seek_ahead(src: Source, first: int, done: int) -> Source | None:
    """For --resume from frame `first` of a video file whose outputs hold `done` frames: a second source on the file
    that stands on frame first + done by a verified seek (`seek.land_on`), so those frames are not decoded again.
    None where the seek cannot be proven exact, would save little, or `src` is no video file: `src` and its reader
    were not touched, the caller reads on from them."""
    import cv2

    path, index = getattr(src, "path", None), first + done
    if path is None or getattr(src, "live", True) or done < SEEK_FROM:
        return None
    with quiet_opencv(), warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a rotation warning was given when `src` opened
        cap, img = cv2.VideoCapture(str(path)), None
        if cap.isOpened():
            apply_rotation(cap, src.name)   # as `src` was opened: the same pictures
            img = land_on(cap, path, index, src.fps)
    if img is None:
        cap.release()
        return None
    ahead = CaptureSource(cap, src.name, live=False)
    ahead.path, ahead.start, ahead.landed, ahead.keep_missing = path, index, img, src.keep_missing
    return ahead
