"""A dataset folder an ordinary user may not list: `dt eval` said its frames were missing ('re-download'), which
they are not; it now names the folder and the permissions fix. Runs as an unprivileged user (test_nonroot)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from test_nonroot import as_user, shared_tmp  # noqa: F401 (shared_tmp: a fixture)


def first_gap(folder: Path) -> str:
    """The first missing frame of folder/00000001.jpg, 00000002.jpg, or the error."""
    from droptrack.data.sequence import first_missing_frame, numbered_frames
    from droptrack.errors import DatasetError

    try:
        return str(first_missing_frame(numbered_frames(folder, 1, 2, 8, ".jpg")))
    except DatasetError as exc:
        return str(exc)


def test_frame_folder_the_user_cannot_list(shared_tmp):  # noqa: F811
    img = shared_tmp / "airplane-1" / "img"
    img.mkdir(parents=True)
    os.chmod(shared_tmp / "airplane-1", 0o755)
    for i in (1, 2):
        cv2.imwrite(str(img / f"{i:08d}.jpg"), np.zeros((8, 8, 3), np.uint8))
    os.chmod(img, 0o711)   # entered, not listed: the frames open, the listing is refused
    assert first_gap(img) == "None"   # root lists it
    assert as_user(first_gap, img) == (f"frame folder {img} is not readable by this user (Permission denied); fix "
                                       "the dataset's permissions, e.g. chmod -R a+rX ROOT")
