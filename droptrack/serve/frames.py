"""The newest annotated frame for the viewers of `dt serve`, encoded on demand (never by the tracking thread)."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np

from droptrack.runtime.sinks import TargetState, annotate

JPEG_QUALITY = 80
VIEW_MIN_SIDE = 640   # live-view frames with a shorter longer side are enlarged (the page maps boxes back)


def enlarge(image: np.ndarray, targets: list[TargetState], min_side: int = VIEW_MIN_SIDE):
    """Frames whose longer side is under `min_side` scaled up by an integer factor, with their boxes."""
    import cv2

    k = min_side // max(image.shape[:2])
    if k < 2:
        return image, targets
    big = cv2.resize(image, (image.shape[1] * k, image.shape[0] * k), interpolation=cv2.INTER_LINEAR)
    return big, [replace(t, box=[v * k for v in t.box]) for t in targets]


class LatestFrame:
    """Holds only the newest frame: a viewer that is busy when frames arrive skips them (frame dropping).

    The tracking thread `publish`es a reference (no copy, no encoding); the first viewer that asks for a new
    frame encodes it to JPEG and the others, also those that ask meanwhile, reuse those bytes.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._jpeg_lock = threading.Lock()   # one JPEG encode at a time: viewers asking together wait for its bytes
        self.seq = 0
        self._item: tuple | None = None
        self._jpeg: tuple[int, bytes] = (0, b"")

    def publish(self, index: int, image: np.ndarray, targets: list[TargetState], fps: float | None) -> None:
        """Replace the newest frame (called by the tracking thread; cheap)."""
        with self._lock:
            self.seq += 1
            self._item = (self.seq, index, image, targets, fps)

    def newest_index(self) -> int | None:
        """The newest frame's index (None before the first); nothing is encoded."""
        with self._lock:
            return None if self._item is None else self._item[1]

    def encode(self, ext: str = ".jpg") -> tuple[int, int, bytes]:
        """(seq, frame index, bytes) of the newest frame with its boxes: JPEG (cached per frame) or PNG."""
        if ext != ".jpg":
            return self._encode(ext)
        with self._jpeg_lock:   # two tabs (or 32 viewers) asking for a new frame at once encode it once
            return self._encode(ext)

    def _encode(self, ext: str) -> tuple[int, int, bytes]:
        import cv2

        with self._lock:
            item, cached = self._item, self._jpeg
        if item is None:
            return 0, -1, b""
        seq, index, image, targets, fps = item
        if ext == ".jpg" and cached[0] == seq:
            return seq, index, cached[1]
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if ext == ".jpg" else []
        if ext == ".jpg":   # the live view: small frames are enlarged so that labels stay legible
            image, targets = enlarge(image, targets)
        ok, buf = cv2.imencode(ext, annotate(image, targets, fps), params)
        if not ok:
            raise RuntimeError(f"cv2.imencode({ext}) failed for a {image.shape} frame")
        data = buf.tobytes()
        if ext == ".jpg":
            with self._lock:
                if seq > self._jpeg[0]:
                    self._jpeg = (seq, data)
        return seq, index, data
