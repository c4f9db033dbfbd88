"""Frame sources: cameras, GStreamer/V4L2 pipelines, video files, image folders, RTSP/HTTP streams.

`open_source(spec)` returns an iterable `Source` of `Frame`s (RGB uint8 HWC, timestamp in seconds, index).
A source that cannot be opened or stops delivering raises `SourceError` naming the device/file and what was
tried. Timestamps: the media time for video files (CAP_PROP_POS_MSEC), index / fps for image folders (fps
default 30), and wall-clock `time.time()` for live sources (cameras, pipelines, streams).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from droptrack.errors import SourceError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
_CAMERA = re.compile(r"^(?:camera|cam|/dev/video)?(\d+)$")
LIVE_RETRIES = 5   # consecutive failed reads before a live source counts as stopped


@dataclass
class Frame:
    """One RGB uint8 (H,W,3) image, its 0-based index and timestamp (seconds)."""

    index: int
    timestamp: float
    image: np.ndarray


class Source:
    """Iterable of Frames; `name` says what it is; use as a context manager or call close()."""

    name = "source"
    fps: float | None = None
    num_frames: int | None = None

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def numeric_key(name: str) -> tuple:
    """Sort key: the integers in a file name, then the name ('img2' < 'img10')."""
    return tuple(int(d) for d in re.findall(r"\d+", name)), name


class FolderSource(Source):
    """Images of a folder, sorted numerically by the digits in their names."""

    def __init__(self, folder: Path, fps: float | None = None):
        self.folder = folder
        self.files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                            key=lambda p: numeric_key(p.name))
        if not self.files:
            raise SourceError(f"folder '{folder}' has no images ({', '.join(IMAGE_SUFFIXES)}); "
                              "point SOURCE to a folder of frames or a video file")
        self.fps = fps or 30.0
        self.num_frames = len(self.files)
        self.name = f"folder {folder} ({len(self.files)} images)"

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        for i, path in enumerate(self.files):
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise SourceError(f"image '{path}' could not be read (cv2.imread failed); "
                                  "remove or replace the file")
            yield Frame(i, i / self.fps, cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


class CaptureSource(Source):
    """A cv2.VideoCapture (video file, camera, pipeline or stream)."""

    def __init__(self, cap, name: str, live: bool):
        import cv2

        self.cap, self.name, self.live = cap, name, live
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 and np.isfinite(fps) else None
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.num_frames = n if (n > 0 and not live) else None

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        i, misses = 0, 0
        while True:
            ok, img = self.cap.read()
            if not ok or img is None:
                if self.live and i > 0 and misses < LIVE_RETRIES:
                    misses += 1
                    time.sleep(0.01 * misses)
                    continue
                if i == 0:
                    raise SourceError(f"{self.name} opened but delivered no frame; "
                                      + ("check the device/stream is streaming" if self.live
                                         else "the file is empty or its codec is unsupported; convert it "
                                              "with ffmpeg -i IN -c:v mpeg4 OUT.mp4"))
                if self.live:
                    raise SourceError(f"{self.name} stopped delivering frames after {i} frames "
                                      f"({LIVE_RETRIES} retries); check the cable/network and restart")
                return
            misses = 0
            ts = time.time() if self.live else self.cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if img.ndim == 2:
                img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
            else:
                img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            yield Frame(i, ts, img)
            i += 1

    def close(self) -> None:
        self.cap.release()


@contextlib.contextmanager
def _quiet_opencv():
    """Silence OpenCV's own warnings while probing (our SourceError says what failed)."""
    import cv2

    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        yield
        return
    old = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        log.setLogLevel(old)


def _camera_hint(index: int) -> str:
    if sys.platform.startswith("linux"):
        dev = Path(f"/dev/video{index}")
        state = "exists but could not be opened (busy or not a capture node)" if dev.exists() else "missing"
        return f"V4L2 {dev} {state}"
    return "the OS camera backend refused it"


def _set_props(cap, width: int | None, height: int | None, fps: float | None) -> None:
    import cv2

    for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height),
                        (cv2.CAP_PROP_FPS, fps)):
        if value:
            cap.set(prop, float(value))


def gstreamer_available() -> bool:
    """Whether this OpenCV build can open GStreamer pipelines."""
    import cv2

    info = cv2.getBuildInformation()
    m = re.search(r"GStreamer:\s*(\S+)", info)
    return bool(m) and m.group(1).upper() != "NO"


def _open_camera(index: int, width, height, fps) -> Source:
    import cv2

    cap = cv2.VideoCapture(index, cv2.CAP_V4L2) if sys.platform.startswith("linux") else cv2.VideoCapture(index)
    if not cap.isOpened():
        cap = cv2.VideoCapture(index)   # any backend
    if not cap.isOpened():
        raise SourceError(f"camera {index} could not be opened ({_camera_hint(index)}; tried OpenCV V4L2 and "
                          "default backends); check the index with `v4l2-ctl --list-devices` or pass a video file")
    _set_props(cap, width, height, fps)
    return CaptureSource(cap, f"camera {index}", live=True)


def _open_pipeline(spec: str) -> Source:
    import cv2

    if not gstreamer_available():
        raise SourceError("GStreamer pipeline given but this OpenCV build has no GStreamer support "
                          "(cv2.getBuildInformation: GStreamer NO); use JetPack's python3-opencv or a camera index")
    cap = cv2.VideoCapture(spec, cv2.CAP_GSTREAMER)
    if not cap.isOpened():
        hint = "" if spec.rstrip().endswith("appsink") or "appsink" in spec else " (it must end in '! appsink')"
        raise SourceError(f"GStreamer pipeline could not be started{hint}; test it with "
                          f"`gst-launch-1.0 {spec.replace('appsink', 'fakesink')}`")
    return CaptureSource(cap, "GStreamer pipeline", live=True)


def _open_stream(url: str, width, height, fps) -> Source:
    import cv2

    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise SourceError(f"stream {url} could not be opened (tried OpenCV FFMPEG); check the URL, network and "
                          "credentials, e.g. with `ffprobe URL`")
    _set_props(cap, width, height, fps)
    return CaptureSource(cap, f"stream {url}", live=True)


def _open_video(path: Path) -> Source:
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SourceError(f"video '{path}' could not be read (OpenCV FFMPEG cannot decode it); check the file or "
                          "convert it with `ffmpeg -i IN -c:v mpeg4 OUT.mp4`")
    return CaptureSource(cap, f"video {path}", live=False)


def open_source(spec: str | int | Path, width: int | None = None, height: int | None = None,
                fps: float | None = None) -> Source:
    """Open a frame source.

    Args:
        spec: `camera0` / `0` / `/dev/video0` (OpenCV capture index), a GStreamer pipeline (contains '!',
            e.g. `nvarguscamerasrc ! ... ! appsink`), an RTSP/HTTP URL, a video file or an image folder.
        width: requested capture width (cameras/streams).
        height: requested capture height.
        fps: requested capture rate; for image folders the nominal rate of the timestamps (default 30).
    """
    s = str(spec).strip()
    m = _CAMERA.match(s)
    if m and (s.startswith("/dev/") or not Path(s).exists()):
        with _quiet_opencv():
            return _open_camera(int(m.group(1)), width, height, fps)
    if "!" in s:
        with _quiet_opencv():
            return _open_pipeline(s)
    if s.lower().startswith(STREAM_PREFIXES):
        with _quiet_opencv():
            return _open_stream(s, width, height, fps)
    path = Path(os.path.expanduser(s))
    if path.is_dir():
        return FolderSource(path, fps)
    if path.is_file():
        with _quiet_opencv():
            return _open_video(path)
    raise SourceError(f"source '{s}' not found: not a file, folder, camera (camera0 / 0), URL (rtsp://, http://) "
                      "or GStreamer pipeline (contains '!')")
