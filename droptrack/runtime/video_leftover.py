"""The unfinished --save video a killed `dt run` leaves (`NAME.part.EXT`, and its lock `.NAME.lock`): its resume
journal names it by file id while it is written (`record`), and the run that completes a resume (which cannot continue
a video, so has no --save), or an --overwrite run saving elsewhere, removes it, or says in one line what is left and
why (`remove`). Only that very file goes:
one the user put at the name since, a link, or any other file is kept."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from droptrack import filelock
from droptrack.errors import InputError
from droptrack.runtime.outlock import lock_path
from droptrack.runtime.sinks import video_part_path


def record(save: Path) -> dict | None:
    """The journal's entry for the video `save` a run writes: its absolute path and the (device, inode) of its
    NAME.part.EXT (None until the writer has made it as a plain file)."""
    try:
        st = os.lstat(video_part_path(save))
    except OSError:
        return None
    return {"save": str(save.resolve()), "part_id": [st.st_dev, st.st_ino]} if stat.S_ISREG(st.st_mode) else None


def checked(entry: Any) -> dict | None:
    """A journal's video entry as `record` writes it (anything else, or none (an earlier droptrack): None, so that
    nothing is removed)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("save"), str) or not Path(entry["save"]).is_absolute():
        return None
    part_id = entry.get("part_id")
    if not isinstance(part_id, list) or len(part_id) != 2 or not all(type(n) is int for n in part_id):
        return None
    return {"save": entry["save"], "part_id": part_id}


def earlier(journal: dict | None, save: Path | None = None) -> dict | None:
    """The video entry of the journal a killed run left (`resume.journal_data`; a new run, --overwrite, removes that
    journal and completes the clean-up in its place), or None: no journal, one without a video, or one whose video
    is this run's own `save` (its writer takes that NAME.part.EXT over)."""
    entry = checked(journal.get("video")) if journal is not None else None
    return None if entry is None or (save is not None and Path(entry["save"]) == save.resolve()) else entry


def _is_recorded(part: Path, part_id: list[int]) -> bool:
    """Whether `part` is the file the killed run was writing: a plain file with the recorded (device, inode), empty
    (the writer's buffer not yet out) or starting as a video the writer makes (a file made since where the run's was
    deleted can get its inode number: one that holds anything else is not taken for it)."""
    st = os.lstat(part)
    if not stat.S_ISREG(st.st_mode) or [st.st_dev, st.st_ino] != part_id:
        return False
    with open(part, "rb") as f:
        head = f.read(12)
    return not head or head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3") or (
        head[:4] == b"RIFF" and head[8:12] == b"AVI ")   # MP4 / MOV, Matroska, AVI


def _whole(part: Path, frames: int | None) -> bool:
    """Whether the killed run's video holds all `frames` frames of the finished run, readable: a run killed as it
    renamed its finished files had closed it (a kill mid-run leaves an MP4 without its index, an AVI short)."""
    import cv2

    if not frames:
        return False
    cap = cv2.VideoCapture(str(part))
    try:
        return cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == frames and cap.read()[0]
    finally:
        cap.release()


def remove(entry: dict, why: str, frames: int | None = None) -> str:
    """Remove the killed run's unfinished video (`checked` entry) and its stale lock, the lock held meanwhile (a
    running writer of that video keeps both): the note saying what was removed and `why`, or what is left and why
    ('': none). A video holding all `frames` frames of the finished run (killed during its closing renames) is
    moved onto its name instead, where that name is free: removing it lost a complete video."""
    save = Path(entry["save"])
    part, lock = video_part_path(save), lock_path(save)
    found, had_lock = os.path.lexists(part), os.path.lexists(lock)
    if not (found or had_lock):
        return ""
    left = f"the killed run's unfinished video {part} is left" if found else ""
    try:   # a kill's lock is taken over and removed with the video (`filelock.release`)
        fd, _ = filelock.take(lock, "")
    except InputError:
        return left and f"{left}: a running dt run or dt serve is writing {save}"
    except OSError as exc:
        return left and f"{left} (its lock {lock} cannot be taken: {exc}); delete it, or keep it"
    try:
        if not found:
            return ""
        if not _is_recorded(part, entry["part_id"]):
            return (f"{part} is left as it is: it is not the video the killed run was writing there (replaced since?); "
                    "delete it, or keep it")
        if not os.path.lexists(save) and _whole(part, frames):
            os.replace(part, save)
            return (f"the killed run's video {part} holds all {frames} frames (it was killed as it finished): moved "
                    f"onto {save}")
        part.unlink()
    except OSError as exc:
        return f"{left} ({exc}); delete it, or keep it"
    finally:
        filelock.release(lock, fd)
    also = f" and its lock {lock}" if had_lock else ""
    return f"removed the killed run's unfinished video {part}{also} ({why})"
