"""What every frame source is: `Frame` (one RGB image, its index and time) and `Source` (an iterable of them);
`plausible_fps` (a container's rate, or None where it is none). The sources themselves: `runtime.sources`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from droptrack.errors import SourceError
from droptrack.runtime.reconnect import Outage

FPS_RANGE = (0.1, 1000.0)   # a container's frame rate outside it is a time base or a broken header, not a rate


class FirstFrameDamaged(SourceError):
    """A file source's first frame does not decode (the targets are set on it); `readable`: the index of the first
    frame that does, where one was found (dt run names `--start` with it)."""

    def __init__(self, message: str, readable: int | None = None):
        super().__init__(message)
        self.readable = readable


@dataclass
class Frame:
    """One RGB uint8 (H,W,3) image, its 0-based index and timestamp (seconds); `gap` after a reconnect. `image` is
    None for a frame of a file that could not be decoded (only from sources with `keep_missing`)."""

    index: int
    timestamp: float
    image: np.ndarray | None
    gap: Outage | None = None
    skipped: int = 0     # frames of a live source dropped just before this one (`newest`): the tracker was busy
    damage: tuple[str, str] | None = None   # a file frame decoded despite damage: (file name, what its decoder said)


class Source:
    """Iterable of Frames; `name` says what it is; use as a context manager or call close().

    A frame of a video file or image folder that cannot be decoded (a damaged packet, a broken JPEG) keeps its
    index: the next frame's index counts it. With `keep_missing` it is handed out as a Frame whose image is None.
    """

    name = "source"
    fps: float | None = None
    num_frames: int | None = None
    keep_missing = False
    start = 0   # dt run --start: the frame the targets are set on; damaged frames before it do not stop a file source
    landed: np.ndarray | None = None   # a video's frame `start` (BGR) when a verified seek reached it (`seek.land_on`)
    aspect_note: str | None = None   # a video file's non-square pixels (videofiles.pixel_aspect_note)
    path: Path | None = None   # a video file's path (a resumed run seeks in it afresh: `readers.seek_ahead`)

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def plausible_fps(fps: float | None) -> float | None:
    """A container's frame rate, or None when it is no rate (0, NaN, a 90 kHz time base, 0.001 from a broken
    header): the video writer, `--loop` and dt serve's pacing then use 30."""
    return float(fps) if fps and np.isfinite(fps) and FPS_RANGE[0] <= fps <= FPS_RANGE[1] else None
