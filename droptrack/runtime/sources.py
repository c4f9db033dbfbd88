"""Frame sources: cameras, GStreamer/V4L2 pipelines, video files, image folders, RTSP/HTTP streams.

`open_source(spec)` returns an iterable `Source` of `Frame`s (RGB uint8 HWC, timestamp in seconds, index).
A source that cannot be opened or stops delivering raises `SourceError` naming the device/file and what was
tried. Timestamps: the media time for video files (CAP_PROP_POS_MSEC), index / fps for image folders (fps
default 30), and wall-clock `time.time()` for live sources (cameras, pipelines, streams).

Live sources given a `ReconnectPolicy` (`--reconnect N`, `--reconnect-timeout S`) are reopened with backoff
when they stop delivering; the first frame after the outage carries `Frame.gap` (seconds without frames and
reopen attempts), frame indices simply continue. A video file that ends still ends the iteration.
Reading ahead in a background thread (files) and handing out a live source's newest frame: `runtime.readers`.
The kinds live beside it: `source_base` (Frame, Source), `capture` (CaptureSource), `folder_source`, `video_source`
and `live_sources` (cameras, pipelines, streams); their public names are importable from here too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from droptrack.decodelog import quiet_opencv as _quiet_opencv
from droptrack.errors import InputError, SourceError
from droptrack.imagefiles import animation_problem, is_still_image
from droptrack.paths import masked, windows_note
from droptrack.runtime.capture import CaptureSource, LIVE_RETRIES
from droptrack.runtime.devices import gstreamer_available
from droptrack.runtime.folder_source import FolderSource
from droptrack.runtime.live_sources import open_camera, open_pipeline, open_stream, STREAM_TIMEOUT_S
from droptrack.runtime.reconnect import ReconnectPolicy
from droptrack.runtime.source_base import FPS_RANGE, Frame, plausible_fps, Source
from droptrack.runtime.video_source import open_video

__all__ = ["CaptureSource", "check_capture_options", "FolderSource", "FPS_RANGE", "Frame", "gstreamer_available",
           "LIVE_RETRIES", "open_source", "plausible_fps", "Source", "source_kind", "source_path", "spaces_note",
           "STREAM_PREFIXES", "STREAM_TIMEOUT_S"]

STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
_CAMERA = re.compile(r"^(?:camera|cam|/dev/video)?(\d+)$")


def source_kind(spec: str | int | Path) -> str:
    """What `open_source` opens for `spec`: camera, pipeline, stream, folder, video or missing."""
    s = str(spec).strip()
    if _CAMERA.match(s) and (s.startswith("/dev/") or not Path(s).exists()):
        return "camera"
    if "!" in s and not os.path.exists(os.path.expanduser(s)):   # 'wow!.mp4' is a file, not a pipeline
        return "pipeline"
    if s.lower().startswith(STREAM_PREFIXES):
        return "stream"
    path = source_path(spec)   # as typed: a file whose name really starts or ends with a space stays that file
    return "folder" if path.is_dir() else "video" if path.is_file() else "missing"


def source_path(spec: str | int | Path) -> Path:
    """The file or folder a path source names, exactly as typed (`~` expanded; spaces kept)."""
    return Path(os.path.expanduser(str(spec)))


def spaces_note(spec: str | int | Path) -> str:
    """"source ' clip.mp4' not found: its name has leading/trailing whitespace; 'clip.mp4' exists, pass that name"
    where the name has such spaces, else '' (never stripped silently: a name may really hold a space)."""
    s = str(spec)
    if s == s.strip() or not s.strip():
        return ""
    there = f"'{masked(s.strip())}' exists, pass that name" if source_path(s.strip()).exists() else \
        f"no '{masked(s.strip())}' either: check the name"
    return f"source '{masked(s)}' not found: its name has leading/trailing whitespace; {there}"


# what --width/--height/--fps cannot do for a kind of source (cameras take all three; a folder's --fps is its rate)
_FIXED_CAPTURE = {
    "video": ("a video file is tracked at its own size and frame rate (resize it with `ffmpeg -i IN -vf "
              "scale=W:H OUT.mp4`, change its rate with `ffmpeg -i IN -vf fps=N OUT.mp4`)", ("width", "height", "fps")),
    "folder": ("an image folder's frames keep their size (--fps sets its timestamp rate)", ("width", "height")),
    "image": ("a single photo is one still frame, tracked at its own size, with no frame rate (resize it with `ffmpeg "
              "-i IN.jpg -vf scale=W:H OUT.jpg`)", ("width", "height", "fps")),
    "pipeline": ("a GStreamer pipeline's size and rate are set in its caps (video/x-raw,width=W,height=H,"
                 "framerate=N/1)", ("width", "height", "fps")),
    "stream": ("OpenCV's FFmpeg reader cannot change a stream's size or rate; the server sets them (e.g. the "
               "camera's stream profile)", ("width", "height", "fps")),
}


def check_capture_options(spec: str | int | Path, width: int | None, height: int | None,
                          fps: float | None) -> None:
    """--width/--height/--fps only for sources they change (cameras; a folder's --fps); else a one-line error
    (they would be ignored without a word)."""
    kind = source_kind(spec)
    if kind == "video" and is_still_image(source_path(spec)):
        kind = "image"   # a photo is opened as a one-image folder, but has no rate to set
    why, fixed = _FIXED_CAPTURE.get(kind, ("", ()))
    given = [f"--{name}" for name, v in (("width", width), ("height", height), ("fps", fps))
             if v is not None and name in fixed]
    if given:
        raise InputError(f"{' / '.join(given)} {'does' if len(given) == 1 else 'do'} nothing for '{masked(spec)}': "
                         f"{why}; drop {' and '.join(given)}")


def open_source(spec: str | int | Path, width: int | None = None, height: int | None = None,
                fps: float | None = None, reconnect: ReconnectPolicy | None = None, start: int = 0) -> Source:
    """Open a frame source.

    Args:
        spec: `camera0` / `0` / `/dev/video0` (OpenCV capture index), a GStreamer pipeline (contains '!' and is
            no existing path, e.g. `nvarguscamerasrc ! ... ! appsink`), an RTSP/HTTP URL, a video file or an image
            folder.
        width: requested capture width (cameras/streams).
        height: requested capture height.
        fps: requested capture rate; for image folders the nominal rate of the timestamps (default 30).
        reconnect: how cameras, pipelines and streams are (re)opened after a drop (default: not at all);
            video files and folders ignore it.
        start: dt run --start of a folder (read from there) or video (a seek where `seek.land_on` proves it exact,
            else decoded from 0 with damage before it passed over).
    """
    s = str(spec).strip()
    kind = source_kind(spec)
    if kind == "camera":
        with _quiet_opencv():
            return open_camera(int(_CAMERA.match(s).group(1)), width, height, fps, reconnect)
    if kind == "pipeline":
        with _quiet_opencv():
            return open_pipeline(s, reconnect)
    if kind == "stream":
        with _quiet_opencv():
            return open_stream(s, width, height, fps, reconnect)
    path = source_path(spec)
    if kind == "folder" or (kind == "video" and is_still_image(path)):   # a photo: EXIF orientation applied
        return FolderSource(path, fps, start)
    if kind == "video":
        why = animation_problem(path)
        if why is not None:
            raise SourceError(why)
        with _quiet_opencv():
            return open_video(path, start)   # frames before --start: `readers.first_at` drops those decoded
    raise missing_source(spec)


def missing_source(spec: str | int | Path) -> SourceError:
    """The one-line error for a source that names nothing `open_source` can open (source_kind 'missing')."""
    s = str(spec).strip()
    path = source_path(spec)
    if path.exists() and not path.is_dir() and not path.is_file():   # a named pipe, socket or device node
        return SourceError(f"source '{masked(s)}' is not a regular file (a named pipe or device): droptrack reads "
                           "video files, folders, cameras, URLs and GStreamer pipelines; stream it over tcp:// or "
                           "udp:// (e.g. `ffmpeg -i IN -f mpegts tcp://127.0.0.1:5000?listen=1`), or save it to a file")
    return SourceError(spaces_note(spec) or f"source '{masked(s)}' not found: not a file, folder, camera "
                       f"(camera0 / 0), URL (rtsp://, http://) or GStreamer pipeline (contains '!')"
                       f"{windows_note(masked(s))}")
