"""Frame sources: cameras, GStreamer/V4L2 pipelines, video files, image folders, RTSP/HTTP streams.

`open_source(spec)` returns an iterable `Source` of `Frame`s (RGB uint8 HWC, timestamp in seconds, index).
A source that cannot be opened or stops delivering raises `SourceError` naming the device/file and what was
tried. Timestamps: the media time for video files (CAP_PROP_POS_MSEC), index / fps for image folders (fps
default 30), and wall-clock `time.time()` for live sources (cameras, pipelines, streams).

Live sources given a `ReconnectPolicy` (`--reconnect N`, `--reconnect-timeout S`) are reopened with backoff
when they stop delivering; the first frame after the outage carries `Frame.gap` (seconds without frames and
reopen attempts), frame indices simply continue. A video file that ends still ends the iteration.
Reading ahead in a background thread (files) and handing out a live source's newest frame: `runtime.readers`.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from droptrack.decodelog import first_damage, quiet_opencv as _quiet_opencv
from droptrack.errors import InputError, SourceError
from droptrack.imagefiles import (animation_problem, frames_problem, is_still_image, no_frames_message, Probes,
                                  read_bgr, sorted_images)
from droptrack.paths import check_readable, masked
from droptrack.runtime.devices import camera_hint, gstreamer_available
from droptrack.runtime.reconnect import Outage, ReconnectPolicy, open_with_retry
from droptrack.runtime.seek import known_end, land_on, SEEK_FROM
from droptrack.videofiles import (DAMAGED_RUN, apply_rotation, frames_lost, no_frame_reason, pixel_aspect_note,
                                  plausible_frame_count, unopened_reason)
from droptrack.wording import counted

STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
_CAMERA = re.compile(r"^(?:camera|cam|/dev/video)?(\d+)$")
LIVE_RETRIES = 5   # consecutive failed reads before a live source counts as stopped
STREAM_TIMEOUT_S = 5.0   # FFmpeg open/read timeout of reconnecting streams (OpenCV's default is 30 s)
FPS_RANGE = (0.1, 1000.0)   # a container's frame rate outside it is a time base or a broken header, not a rate


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


class FolderSource(Source):
    """Images of a folder (hidden files skipped), sorted numerically by the digits in their names; or one still image
    file, a one-frame source decoded as a folder's frames are (FFmpeg's image readers skip EXIF orientation)."""

    def __init__(self, folder: Path, fps: float | None = None, start: int = 0):
        self.folder, self.start = folder, start
        why = None if folder.is_file() else frames_problem(folder)
        if why is not None:
            raise SourceError(why)
        self.files = [folder] if folder.is_file() else sorted_images(folder)
        if not self.files:
            raise SourceError(no_frames_message(folder))
        self.name = f"image {folder}" if folder.is_file() else f"folder {folder} ({counted(len(self.files), 'image')})"
        if start >= len(self.files):
            raise InputError(f"--start {start}: {self.name} has {len(self.files)} frames; pass --start "
                             f"{len(self.files) - 1} or less")
        for path in self.files[start:]:   # before the first frame: cv2.imread would fail mid-run as 'could not be read'
            if not path.exists():
                raise SourceError(f"image '{path}' is a link to '{os.readlink(path)}', which is missing; restore "
                                  "its target (a drive not mounted?) or remove the link")
            check_readable("image", path)
        self.fps = fps or 30.0
        self.num_frames = len(self.files)

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        probes = Probes(self.files[self.start:])   # the frames before --start are not read: damaged ones do not stop it
        for i, path in enumerate(self.files[self.start:], self.start):
            said: list[str] = []   # libjpeg's complaints about a damaged file: one warning at the end, not a line each
            with _quiet_opencv():   # OpenCV's own warning would be a second line before our error
                try:
                    img = read_bgr(path, probes, said)   # cv2.imread's convention, as the dataset readers
                except ValueError as exc:
                    raise SourceError(str(exc)) from None
            if img is None and i == 0:   # the targets are set on the first frame (--start N: `readers.first_at`)
                raise SourceError(f"image '{path}' could not be read ({said[0] if said else 'cv2.imread failed'}); "
                                  "replace the file"
                                  + ("" if self.folder.is_file() else ", or move it out of the folder if it is the "
                                     "first frame"))
            if img is not None or self.keep_missing:
                yield Frame(i, i / self.fps, None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB),
                            damage=(path.name, first_damage(said)) if first_damage(said) and img is not None else None)


class CaptureSource(Source):
    """A cv2.VideoCapture (video file, camera, pipeline or stream); live ones reopen through `opener`."""

    def __init__(self, cap, name: str, live: bool, opener: Callable[[], Any] | None = None,
                 policy: ReconnectPolicy | None = None, hint: str = "check the device/stream"):
        import cv2

        self.cap, self.name, self.live = cap, name, live
        self.opener, self.policy, self.hint = opener, policy or ReconnectPolicy(), hint
        self.fps = plausible_fps(cap.get(cv2.CAP_PROP_FPS))
        # a header's word: the frames may end earlier or go on (NaN, negative or absurd: unknown)
        self.num_frames = None if live else plausible_frame_count(cap.get(cv2.CAP_PROP_FRAME_COUNT))

    @property
    def reconnects(self) -> bool:
        """Whether a drop is retried (live, with an opener and an enabled policy)."""
        return self.live and self.opener is not None and self.policy.enabled

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        pending, self.landed = self.landed, None   # a seek read frame `start` already: the count goes on from it
        i, misses, damaged = (0 if pending is None else self.start), 0, 0   # damaged: failed reads since a good frame
        outage_start, attempts, last_ts = None, 0, None   # the outage in progress; the file's last good frame time
        last_good = time.monotonic()
        while True:
            ok, img = (True, pending) if pending is not None else self.cap.read()
            pending = None
            if not ok or img is None:
                if not self.live and damaged < DAMAGED_RUN:   # a damaged frame, or the end of the file
                    damaged += 1
                    continue
                if self.live and i > 0 and misses < LIVE_RETRIES:
                    misses += 1
                    time.sleep(0.01 * misses)
                    continue
                if self.reconnects:
                    self.cap.release()
                    outage_start = time.monotonic() if outage_start is None else outage_start
                    self.cap, attempts = open_with_retry(self.opener, self.policy, self.name, self.hint,
                                                         started=outage_start, done=attempts)
                    misses = 0
                    continue
                if i == 0:
                    why = ("delivered no frame; check the device/stream is streaming" if self.live
                           else no_frame_reason(self.cap))
                    raise SourceError(f"{self.name} opened but {why}")
                if self.live:
                    raise SourceError(f"{self.name} stopped delivering frames after {i} frames "
                                      f"({LIVE_RETRIES} retries); check the cable/network and restart, or "
                                      "pass --reconnect N / --reconnect-timeout S")
                return
            ts = time.time() if self.live else self.cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if damaged:   # the decoder refused frames between good ones: indices stay the file's
                damaged = frames_lost(self.fps, last_ts, ts, damaged)   # and the ones it dropped without a word
                if i == 0 and not self.start:
                    cut = f"{ts:.3f}".rstrip("0").rstrip(".") if 0 < ts < float("inf") else "1"
                    raise SourceError(f"{self.name}: its first {damaged} frame(s) could not be decoded (damaged); the "
                                      f"targets are set on the first frame: cut them off, e.g. `ffmpeg -ss {cut} -i "
                                      "IN -c:v mpeg4 -q:v 2 OUT.mp4`")
                for _ in range(damaged):
                    if self.keep_missing:
                        yield Frame(i, float("nan"), None)
                    i += 1
                damaged = 0
            misses = 0
            now = time.monotonic()
            gap = None if outage_start is None else Outage(round(now - last_good, 3), attempts)
            outage_start, attempts, last_good, last_ts = None, 0, now, ts
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB if img.ndim == 2 else cv2.COLOR_BGR2RGB)
            yield Frame(i, ts, img, gap)
            i += 1

    def close(self) -> None:
        self.cap.release()


def plausible_fps(fps: float | None) -> float | None:
    """A container's frame rate, or None when it is no rate (0, NaN, a 90 kHz time base, 0.001 from a broken
    header): the video writer, `--loop` and dt serve's pacing then use 30."""
    return float(fps) if fps and np.isfinite(fps) and FPS_RANGE[0] <= fps <= FPS_RANGE[1] else None


def _set_props(cap, width: int | None, height: int | None, fps: float | None) -> None:
    import cv2

    for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height),
                        (cv2.CAP_PROP_FPS, fps)):
        if value:
            cap.set(prop, float(value))


def _open_live(opener: Callable[[], Any], name: str, tried: str, remedy: str,
               policy: ReconnectPolicy | None) -> Source:
    """Open a live capture (retried per `policy`) as a CaptureSource that reopens the same way after drops."""
    policy = policy or ReconnectPolicy()

    def quiet_opener():
        with _quiet_opencv():
            return opener()

    if policy.enabled:
        cap, _ = open_with_retry(quiet_opener, policy, name, f"{tried}; {remedy}", first_wait=False)
    else:
        cap = quiet_opener()
        if not cap.isOpened():
            raise SourceError(f"{name} could not be opened ({tried}); {remedy}")
    return CaptureSource(cap, name, live=True, opener=quiet_opener, policy=policy, hint=remedy)


def _open_camera(index: int, width, height, fps, policy: ReconnectPolicy | None = None) -> Source:
    import cv2

    def opener():
        cap = cv2.VideoCapture(index, cv2.CAP_V4L2) if sys.platform.startswith("linux") else cv2.VideoCapture(index)
        if not cap.isOpened():
            cap = cv2.VideoCapture(index)   # any backend
        if cap.isOpened():
            _set_props(cap, width, height, fps)
        return cap

    return _open_live(opener, f"camera {index}", f"{camera_hint(index)}; tried OpenCV V4L2 and default backends",
                      "check the index with `v4l2-ctl --list-devices` or pass a video file", policy)


def _open_pipeline(spec: str, policy: ReconnectPolicy | None = None) -> Source:
    import cv2

    if not gstreamer_available():
        raise SourceError("GStreamer pipeline given but this OpenCV build has no GStreamer support "
                          "(cv2.getBuildInformation: GStreamer NO); use JetPack's python3-opencv or a camera index")
    hint = "" if "appsink" in spec else "; it must end in '! appsink'"
    return _open_live(lambda: cv2.VideoCapture(spec, cv2.CAP_GSTREAMER), "GStreamer pipeline",
                      f"OpenCV GStreamer backend{hint}",
                      f"test it with `gst-launch-1.0 {spec.replace('appsink', 'fakesink')}`", policy)


def _open_stream(url: str, width, height, fps, policy: ReconnectPolicy | None = None) -> Source:
    import cv2

    params = []
    if policy is not None and policy.enabled:   # notice a hung stream within the reconnect budget
        ms = int(1000 * min(policy.timeout_s or STREAM_TIMEOUT_S, STREAM_TIMEOUT_S))
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]

    def opener():
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            _set_props(cap, width, height, fps)
        return cap

    return _open_live(opener, f"stream {masked(url)}", "tried OpenCV FFMPEG",
                      "check the URL, network and credentials, e.g. with `ffprobe URL`", policy)


def _open_video(path: Path, start: int = 0) -> Source:
    import cv2

    check_readable("video", path)   # OpenCV would say 'cannot decode it'
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SourceError(unopened_reason(path) or f"video '{path}' could not be read (OpenCV FFMPEG cannot decode "
                          "it); check the file or convert it with `ffmpeg -i IN -c:v mpeg4 OUT.mp4`")
    apply_rotation(cap, f"video '{path}'")   # upright as displayed, whatever the build's default
    src = CaptureSource(cap, f"video {path}", live=False)
    src.aspect_note = pixel_aspect_note(cap, f"video '{path}'")   # non-square pixels: said once tracking starts
    src.start, src.path = start, path
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


def source_kind(spec: str | int | Path) -> str:
    """What `open_source` opens for `spec`: camera, pipeline, stream, folder, video or missing."""
    s = str(spec).strip()
    if _CAMERA.match(s) and (s.startswith("/dev/") or not Path(s).exists()):
        return "camera"
    if "!" in s and not os.path.exists(os.path.expanduser(s)):   # 'wow!.mp4' is a file, not a pipeline
        return "pipeline"
    if s.lower().startswith(STREAM_PREFIXES):
        return "stream"
    path = Path(os.path.expanduser(s))
    return "folder" if path.is_dir() else "video" if path.is_file() else "missing"


# what --width/--height/--fps cannot do for a kind of source (cameras take all three; a folder's --fps is its rate)
_FIXED_CAPTURE = {
    "video": ("a video file is tracked at its own size and frame rate (resize it with `ffmpeg -i IN -vf "
              "scale=W:H OUT.mp4`)", ("width", "height", "fps")),
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
    if kind == "video" and is_still_image(Path(os.path.expanduser(str(spec).strip()))):
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
    kind = source_kind(s)
    if kind == "camera":
        with _quiet_opencv():
            return _open_camera(int(_CAMERA.match(s).group(1)), width, height, fps, reconnect)
    if kind == "pipeline":
        with _quiet_opencv():
            return _open_pipeline(s, reconnect)
    if kind == "stream":
        with _quiet_opencv():
            return _open_stream(s, width, height, fps, reconnect)
    path = Path(os.path.expanduser(s))
    if kind == "folder" or (kind == "video" and is_still_image(path)):   # a photo: EXIF orientation applied
        return FolderSource(path, fps, start)
    if kind == "video":
        why = animation_problem(path)
        if why is not None:
            raise SourceError(why)
        with _quiet_opencv():
            return _open_video(path, start)   # frames before --start: `readers.first_at` drops those decoded
    raise SourceError(f"source '{masked(s)}' not found: not a file, folder, camera (camera0 / 0), URL (rtsp://, "
                      "http://) or GStreamer pipeline (contains '!')")
