"""The --show window of `dt run`: boxes, scores and FPS drawn on each frame; q or Esc stops the run."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

from droptrack.errors import InputError
from droptrack.runtime.sinks import Sink, TargetState, annotate
from droptrack.runtime.sources import Frame


def display_problem() -> str | None:
    """Why no window can be shown here (None if it can)."""
    import cv2

    info = cv2.getBuildInformation()
    gui = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.strip().startswith("GUI:")), "")
    if gui.upper() == "NONE":
        return f"this OpenCV build has no GUI (cv2 highgui unavailable); {gui_advice(_cv2_distributions())}"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "DISPLAY is not set (headless machine); run under X11/Wayland or use ssh -X"
    return None


def _cv2_distributions() -> list[str]:
    """The installed packages that provide cv2 (droptrack's own: opencv-contrib-python-headless)."""
    from importlib.metadata import packages_distributions

    try:
        return list(packages_distributions().get("cv2", []))
    except Exception:  # noqa: BLE001 - a broken metadata entry: advise without names
        return []


def gui_advice(dists: list[str]) -> str:
    """How to get OpenCV's GUI in place of the headless build that provides cv2 (`dists`): its GUI twin, which keeps
    the same cv2 modules (the contrib trackers of --tracker csrt included); opencv-python beside it would break cv2."""
    headless = [d for d in dists if d.lower().endswith("-headless")]
    if len(headless) != 1 or len(dists) != 1:
        return "install an OpenCV build with a GUI in place of this one (one of them only, e.g. opencv-contrib-python)"
    name = headless[0]
    return (f"replace {name} with its GUI build: pip uninstall -y {name} && pip install "
            f"{name[:-len('-headless')]}")


@contextlib.contextmanager
def prompts_to_stderr() -> Iterator[None]:
    """OpenCV's selectROIs prints its prompts ('Select a ROI and then press SPACE or ENTER button!') on stdout, where
    they went ahead of `--jsonl -`'s records; while it runs, file descriptor 1 points at stderr."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:   # no stdout to move
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def select_targets(image) -> list[list[float]]:
    """Interactive cv2.selectROIs on an RGB frame (Enter/Space after each box, Esc to finish)."""
    import cv2

    with prompts_to_stderr():   # stdout may be --jsonl -
        rois = cv2.selectROIs("dt run: draw targets, Enter after each, Esc to start", image[:, :, ::-1].copy(),
                              showCrosshair=True)
    cv2.destroyAllWindows()
    drawn = [tuple(map(float, r)) for r in (rois if rois is not None else []) if r[2] > 0 and r[3] > 0]
    boxes = [list(b) for b in dict.fromkeys(drawn)]   # Enter pressed twice adds the same box again: one target
    if not boxes:
        raise InputError("no target selected; draw a box (Enter to confirm) or pass --init x,y,w,h")
    return boxes


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
