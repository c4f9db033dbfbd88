"""Live sources: cameras, GStreamer pipelines and RTSP/HTTP streams, opened (and reopened after drops) as
`CaptureSource`s for `runtime.sources.open_source`."""

from __future__ import annotations

import sys
from typing import Any, Callable

from droptrack.decodelog import quiet_opencv as _quiet_opencv
from droptrack.errors import SourceError
from droptrack.paths import masked
from droptrack.runtime.capture import CaptureSource
from droptrack.runtime.devices import camera_hint, gstreamer_available
from droptrack.runtime.reconnect import ReconnectPolicy, open_with_retry
from droptrack.runtime.source_base import Source

STREAM_TIMEOUT_S = 5.0   # FFmpeg open/read timeout of reconnecting streams (OpenCV's default is 30 s)


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


def open_camera(index: int, width, height, fps, policy: ReconnectPolicy | None = None) -> Source:
    """Camera `index` (V4L2 first on Linux, then any backend), --width/--height/--fps requested of it."""
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


def open_pipeline(spec: str, policy: ReconnectPolicy | None = None) -> Source:
    """A GStreamer pipeline ending in appsink (OpenCV's GStreamer backend; refused where the build lacks it)."""
    import cv2

    if not gstreamer_available():
        raise SourceError("GStreamer pipeline given but this OpenCV build has no GStreamer support "
                          "(cv2.getBuildInformation: GStreamer NO); use JetPack's python3-opencv or a camera index")
    hint = "" if "appsink" in spec else "; it must end in '! appsink'"
    return _open_live(lambda: cv2.VideoCapture(spec, cv2.CAP_GSTREAMER), "GStreamer pipeline",
                      f"OpenCV GStreamer backend{hint}",
                      f"test it with `gst-launch-1.0 {spec.replace('appsink', 'fakesink')}`", policy)


def open_stream(url: str, width, height, fps, policy: ReconnectPolicy | None = None) -> Source:
    """An RTSP/HTTP/UDP stream through OpenCV's FFmpeg, with open/read timeouts where it reconnects."""
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
