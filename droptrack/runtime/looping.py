"""`dt run --loop`: a video file or image folder replayed from its start, endlessly (soak tests, demos)."""

from __future__ import annotations

import math
from typing import Callable, Iterator

from droptrack.errors import InputError
from droptrack.runtime.sources import CaptureSource, Frame, Source


class LoopedSource(Source):
    """Reopens a finite source whenever it ends; frame indices keep counting and timestamps keep increasing."""

    def __init__(self, open_once: Callable[[], Source]):
        self.open_once = open_once
        self.current = open_once()
        if isinstance(self.current, CaptureSource) and self.current.live:
            self.current.close()
            raise InputError("--loop replays a video file or an image folder; a live source (camera, stream, "
                             "pipeline) never ends - drop --loop")
        self.name = f"{self.current.name}, looped"
        self.fps = self.current.fps
        self.aspect_note = getattr(self.current, "aspect_note", None)   # said once, not at every reopening
        self.num_frames = None

    def __iter__(self) -> Iterator[Frame]:
        index, offset = 0, 0.0
        step = 1.0 / (self.fps or 30.0)
        while True:
            n, last = 0, 0.0
            for f in self.current:
                yield Frame(index, offset + f.timestamp, f.image, damage=f.damage)
                index, n = index + 1, n + 1
                last = f.timestamp if math.isfinite(f.timestamp) else last   # a damaged frame has no time
            if n == 0:
                return
            offset += last + step
            self.current.close()
            self.current = self.open_once()

    def close(self) -> None:
        self.current.close()
