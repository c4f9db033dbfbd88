"""Which files are videos, and what OpenCV says about one, checked before it is believed: the header's frame count,
and the display rotation (a phone's portrait video) applied explicitly, or a warning where the backend cannot."""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

from droptrack.errors import printable

# containers that dataset folders and --data take as videos (dt run opens any file OpenCV's FFmpeg reads): phones,
# camcorders (AVCHD .mts/.m2ts), IP cameras and recorders (.ts), older cameras and screen captures (.3gp, .wmv, .flv)
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".mts", ".m2ts", ".ts", ".3gp",
              ".wmv", ".asf", ".flv", ".vob", ".ogv", ".y4m")
MAX_FRAME_COUNT = 1e9   # more frames than a year of 30 FPS video: a broken header, not a count
DAMAGED_RUN = 50        # failed reads in a row that end a video file (fewer, then a good frame: damaged frames)


class RotationWarning(UserWarning):
    """A video's display rotation that the OpenCV backend reading it does not apply (its frames come sideways)."""


def one_line_warning(show: Any, message: Any, category: type, *rest: Any) -> None:
    """A droptrack warning (RotationWarning) as one 'warning: ...' line on stderr, as dt prints them (the CLI, and
    dt eval's worker processes); others as `show` (the `warnings.showwarning` it replaces) shows them."""
    if issubclass(category, RotationWarning):
        sys.stderr.write(f"warning: {printable(message)}\n")   # one write: workers' lines do not interleave
        sys.stderr.flush()
    else:
        show(message, category, *rest)


def plausible_frame_count(n: float | None) -> int | None:
    """A header's frame count, or None when it is no count (NaN, inf, 0 or negative, over MAX_FRAME_COUNT)."""
    if n is None or not math.isfinite(n) or n < 1 or n > MAX_FRAME_COUNT:
        return None
    return int(n)


def apply_rotation(cap: Any, name: str) -> bool:
    """Ask OpenCV to turn the frames of an opened video upright by its display matrix (CAP_PROP_ORIENTATION_AUTO,
    off by default in some builds and backends); returns whether it does. Where it cannot (GStreamer, older OpenCV)
    and the file is rotated (CAP_PROP_ORIENTATION_META), one RotationWarning says so: the frames, --init and the
    boxes are then in the stored, sideways picture."""
    import cv2

    auto = getattr(cv2, "CAP_PROP_ORIENTATION_AUTO", None)
    applied = auto is not None and bool(cap.set(auto, 1)) and cap.get(auto) != 0
    meta = getattr(cv2, "CAP_PROP_ORIENTATION_META", None)
    degrees = cap.get(meta) if meta is not None else 0.0
    if not applied and math.isfinite(degrees) and round(degrees) % 360 != 0:
        backend = cap.getBackendName() if hasattr(cap, "getBackendName") else "this"
        warnings.warn(f"{name} is stored rotated by {round(degrees) % 360} degrees (its display matrix) and OpenCV's "
                      f"{backend} backend does not turn it upright: frames, --init and the boxes are in the stored "
                      "picture; rotate the file with `ffmpeg -i IN -c:v libx264 OUT.mp4` (ffmpeg applies the "
                      "rotation)", RotationWarning, stacklevel=2)
    return applied
