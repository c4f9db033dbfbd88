"""Classic OpenCV trackers (opencv-contrib) as named baselines for `dt eval --tracker` and `dt bench --tracker`.

Each one is wrapped to the interface `dt eval` drives (droptrack.eval.workers.track_sequence):
`initialize(rgb_frame, [x, y, w, h])` and `track(rgb_frame) -> (box, score)`. OpenCV's quirks are handled here:
  - frames are RGB in droptrack and BGR in OpenCV (converted);
  - the init box is rounded to integers and clipped to the image (OpenCV's Rect), at least 1x1;
  - an `init` that raises (or returns False) leaves the tracker without state: every later frame reports the init
    box; so does a box under MIN_SIDE (OpenCV 5's MIL never returns from `init` on a box of 4 px or less);
  - `update` returning False (or raising) reports the last box.
Frames reported this way are flagged: `track` returns score 0.0 for them (1.0 otherwise) and the tracker counts them
in `failed_frames` (OpenCV gives no confidence, so the score is only this flag).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from droptrack.errors import InputError
from droptrack.geometry import validate_init_box


def _main(name: str) -> Callable[[], Any]:
    """Factory of a tracker in OpenCV's main module (cv2.TrackerX.create)."""
    def create() -> Any:
        import cv2

        return getattr(cv2, name).create()
    return create


def _legacy(name: str) -> Callable[[], Any]:
    """Factory of a tracker of opencv-contrib's cv2.legacy module."""
    def create() -> Any:
        import cv2

        return getattr(cv2.legacy, f"{name}_create")()
    return create


# name -> (factory, one-line description); every one is in opencv-contrib-python-headless
BASELINES: dict[str, tuple[Callable[[], Any], str]] = {
    "csrt": (_main("TrackerCSRT"), "discriminative correlation filter with channel and spatial reliability"),
    "kcf": (_main("TrackerKCF"), "kernelized correlation filter"),
    "mil": (_main("TrackerMIL"), "multiple-instance learning"),
    "mosse": (_legacy("TrackerMOSSE"), "minimum output sum of squared error filter (legacy)"),
    "medianflow": (_legacy("TrackerMedianFlow"), "forward-backward optical flow (legacy)"),
}


MIN_SIDE = {"mil": 5}    # smallest integer box side a tracker is started on (smaller: flagged as an init failure)


def check_name(name: str) -> str:
    """The lower-cased baseline name; an unknown one raises InputError listing the choices."""
    key = str(name).strip().lower()
    if key not in BASELINES:
        raise InputError(f"unknown --tracker {name!r}; choose one of {', '.join(BASELINES)}")
    return key


def identity(name: str) -> dict[str, str]:
    """What `dt eval` records in eval.json for a baseline (resuming requires the same tracker and OpenCV build)."""
    import cv2

    key = check_name(name)
    return {"artifact": f"opencv:{key}", "artifact_sha256": f"opencv-{cv2.__version__}:{key}"}


def _int_box(box: Any, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """Round x, y, w, h to integers inside the image, at least 1x1 (OpenCV's Rect)."""
    h_img, w_img = image_hw
    x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    x0 = int(round(min(max(x, 0.0), w_img - 1)))
    y0 = int(round(min(max(y, 0.0), h_img - 1)))
    x1 = int(round(min(max(x + w, x0 + 1), w_img)))
    y1 = int(round(min(max(y + h, y0 + 1), h_img)))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


@dataclass
class OpenCVTracker:
    """One OpenCV tracker behind droptrack's initialize/track interface (see the module docstring)."""

    name: str
    failed_frames: int = 0
    init_failed: bool = False
    _impl: Any = field(default=None, repr=False)
    _last: list[float] = field(default_factory=list, repr=False)

    def initialize(self, frame: np.ndarray, box: Any) -> None:
        """Start on an RGB frame with an x, y, w, h box: one the model's tracker refuses (not finite, no area, off the
        frame) raises its InputError; a failed OpenCV init is flagged, not raised."""
        import cv2

        self._last = validate_init_box(np.asarray(box, dtype=np.float64).reshape(-1), frame.shape[:2])
        self.failed_frames, self.init_failed = 0, False
        self._impl = BASELINES[self.name][0]()
        rect = _int_box(box, frame.shape[:2])
        try:
            ok = min(rect[2:]) >= MIN_SIDE.get(self.name, 1) and self._impl.init(
                cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), rect) is not False
        except cv2.error:
            ok = False
        if not ok:   # legacy trackers return a bool, the main-module ones None
            self._impl, self.init_failed = None, True

    def track(self, frame: np.ndarray) -> tuple[list[float], float]:
        """Next box on an RGB frame and a flag score: 1.0 tracked, 0.0 = OpenCV failed (last box reported)."""
        import cv2

        if self._impl is not None:
            try:
                ok, box = self._impl.update(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            except cv2.error:
                ok, box = False, None
            if ok and box is not None and box[2] > 0 and box[3] > 0:
                self._last = [float(v) for v in box]
                return list(self._last), 1.0
        self.failed_frames += 1
        return list(self._last), 0.0


def create(name: str) -> OpenCVTracker:
    """A baseline tracker by name (InputError listing the choices for an unknown one)."""
    key = check_name(name)
    try:
        BASELINES[key][0]()
    except AttributeError:
        raise InputError(f"this OpenCV build has no {key} tracker; install opencv-contrib-python-headless (and "
                         "uninstall opencv-python-headless, which provides the same cv2 without it)") from None
    return OpenCVTracker(key)
