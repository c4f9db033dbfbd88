"""Video files as frame sources: opened upright, --start past the end refused, and --start N reached by a verified
seek (`runtime.seek`) where one checks out."""

from __future__ import annotations

from pathlib import Path

from droptrack.errors import InputError, SourceError
from droptrack.paths import check_readable
from droptrack.runtime.capture import CaptureSource
from droptrack.runtime.seek import known_end, land_on, SEEK_FROM
from droptrack.runtime.source_base import Source
from droptrack.videofiles import (apply_rotation, frames_before_start, pixel_aspect_note, text_drawn_as_video,
                                  unopened_reason)


def open_video(path: Path, start: int = 0) -> Source:
    """Video file `path` as a CaptureSource standing before frame `start` (or on it: `Source.landed`)."""
    import cv2

    check_readable("video", path)   # OpenCV would say 'cannot decode it'
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SourceError(unopened_reason(path) or f"video '{path}' could not be read (OpenCV FFMPEG cannot decode "
                          "it); check the file (`ffprobe FILE` lists its streams: one of only audio has no picture to "
                          "track) or convert it with `ffmpeg -i IN -c:v mpeg4 OUT.mp4`")
    text = text_drawn_as_video(cap, path)   # a box file given as SOURCE: tracked over pictures of its digits
    if text is not None:
        cap.release()
        raise SourceError(f"{text}; pass a video file (.mp4, .avi, ...), a folder of frames, a camera or a stream")
    apply_rotation(cap, f"video '{path}'")   # upright as displayed, whatever the build's default
    src = CaptureSource(cap, f"video {path}", live=False)
    src.aspect_note = pixel_aspect_note(cap, f"video '{path}'")   # non-square pixels: said once tracking starts
    src.start, src.path = start, path
    if src.num_frames:   # an MKV/WebM's count from time 0, where its first frame comes later: not a stored frame
        src.num_frames -= frames_before_start(path, src.fps, src.num_frames)
    end = known_end(path, start, src.num_frames) if start else None
    if end is not None:
        cap.release()
        raise InputError(f"--start {start}: {src.name} has {end} frames; pass --start {end - 1} or less")
    if start >= SEEK_FROM:   # --start N: one seek where its landing checks out, else frames 0..N-1 decoded, dropped
        src.landed = land_on(cap, path, start, src.fps)
        if src.landed is None:   # a frame was read or a seek tried: from frame 0 again
            cap.release()
            src.cap = cv2.VideoCapture(str(path))
            apply_rotation(src.cap, f"video '{path}'")
    return src
