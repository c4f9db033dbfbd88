"""The newest annotated frame for the viewers of `dt serve`, encoded on demand (never by the tracking thread)."""

from __future__ import annotations

import threading

import numpy as np

from droptrack.runtime.sinks import TargetState, annotate

JPEG_QUALITY = 80


class LatestFrame:
    """Holds only the newest frame: a viewer that is busy when frames arrive skips them (frame dropping).

    The tracking thread `publish`es a reference (no copy, no encoding); the first viewer that asks for a new
    frame encodes it to JPEG and the others reuse those bytes.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.seq = 0
        self._item: tuple | None = None
        self._jpeg: tuple[int, bytes] = (0, b"")

    def publish(self, index: int, image: np.ndarray, targets: list[TargetState], fps: float | None) -> None:
        """Replace the newest frame (called by the tracking thread; cheap)."""
        with self._lock:
            self.seq += 1
            self._item = (self.seq, index, image, targets, fps)

    def encode(self, ext: str = ".jpg") -> tuple[int, int, bytes]:
        """(seq, frame index, bytes) of the newest frame with its boxes: JPEG (cached per frame) or PNG."""
        import cv2

        with self._lock:
            item, cached = self._item, self._jpeg
        if item is None:
            return 0, -1, b""
        seq, index, image, targets, fps = item
        if ext == ".jpg" and cached[0] == seq:
            return seq, index, cached[1]
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if ext == ".jpg" else []
        ok, buf = cv2.imencode(ext, annotate(image, targets, fps), params)
        if not ok:
            raise RuntimeError(f"cv2.imencode({ext}) failed for a {image.shape} frame")
        data = buf.tobytes()
        if ext == ".jpg":
            with self._lock:
                if seq > self._jpeg[0]:
                    self._jpeg = (seq, data)
        return seq, index, data
