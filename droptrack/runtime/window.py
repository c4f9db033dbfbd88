"""The --show window of `dt run`: boxes, scores and FPS drawn on each frame; q or Esc stops the run."""

from __future__ import annotations

import os
import sys

from droptrack.errors import InputError
from droptrack.runtime.sinks import Sink, TargetState, annotate
from droptrack.runtime.sources import Frame


def display_problem() -> str | None:
    """Why no window can be shown here (None if it can)."""
    import cv2

    info = cv2.getBuildInformation()
    gui = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.strip().startswith("GUI:")), "")
    if gui.upper() == "NONE":
        return "this OpenCV build has no GUI (cv2 highgui unavailable, e.g. opencv-python-headless); " \
               "install opencv-python"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "DISPLAY is not set (headless machine); run under X11/Wayland or use ssh -X"
    return None


class StopRequested(Exception):
    """The user closed the window or pressed q/Esc."""


class WindowSink(Sink):
    """A cv2 window with boxes, scores and FPS; q or Esc stops the run."""

    WINDOW = "dt run"

    def __init__(self):
        problem = display_problem()
        if problem:
            raise InputError(f"--show needs a display: {problem}; or drop --show and use --save out.mp4")
        import cv2

        cv2.namedWindow(self.WINDOW, cv2.WINDOW_NORMAL)

    def write(self, frame: Frame, targets: list[TargetState], fps: float | None = None) -> None:
        import cv2

        if frame.image is not None:   # a frame the source could not decode: the last one stays on screen
            cv2.imshow(self.WINDOW, annotate(frame.image, targets, fps))
        if (cv2.waitKey(1) & 0xFF) in (ord("q"), 27):
            raise StopRequested

    def close(self) -> None:
        import cv2

        try:
            cv2.destroyWindow(self.WINDOW)
        except cv2.error:
            pass
