"""What the OS says about capture devices: a V4L2 node's state (missing, closed to this user, busy) and whether
this OpenCV build has GStreamer; the sources name it when a camera or pipeline does not open."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path


def camera_hint(index: int) -> str:
    """What the OS says about camera `index` when OpenCV could not open it."""
    if sys.platform.startswith("linux"):
        dev = Path(f"/dev/video{index}")
        return f"V4L2 {dev} {device_state(dev)}"
    return "the OS camera backend refused it"


def device_state(dev: Path) -> str:
    """Why a V4L2 node did not open: missing, closed to this user (not in its group: root never is), or busy."""
    if not os.path.exists(dev):
        return "missing"
    if not os.access(dev, os.R_OK | os.W_OK):
        import grp

        group = grp.getgrgid(os.stat(dev).st_gid).gr_name
        return (f"exists but this user may not open it (Permission denied): add the user to its group, e.g. "
                f"sudo usermod -aG {group} $USER, then log in again")
    return "exists but could not be opened (busy or not a capture node)"


def gstreamer_available() -> bool:
    """Whether this OpenCV build can open GStreamer pipelines."""
    import cv2

    info = cv2.getBuildInformation()
    m = re.search(r"GStreamer:\s*(\S+)", info)
    return bool(m) and m.group(1).upper() != "NO"
