"""Image folders (and single still images) as frame sources for `runtime.sources.open_source`."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Iterator

from droptrack.decodelog import first_damage, quiet_opencv as _quiet_opencv
from droptrack.errors import FrameGapWarning, InputError, SourceError
from droptrack.imagefiles import DECIMAL, frames_problem, no_frames_message, Probes, read_bgr, sorted_images
from droptrack.paths import check_readable
from droptrack.runtime.source_base import FirstFrameDamaged, Frame, Source
from droptrack.wording import counted


READABLE_LOOKAHEAD = 50   # frames after a damaged first one tried for one that decodes (an error's hint only)


class FolderSource(Source):
    """Images of a folder (hidden files skipped), sorted numerically by the digits in their names; or one still image
    file, a one-frame source decoded as a folder's frames are (FFmpeg's image readers skip EXIF orientation)."""

    def __init__(self, folder: Path, fps: float | None = None, start: int = 0):
        self.folder, self.start = folder, start
        why = None if folder.is_file() else frames_problem(folder)
        if why is not None:
            raise SourceError(why)
        self.files = [folder] if folder.is_file() else sorted_images(folder, warn=True)
        if not self.files:
            raise SourceError(no_frames_message(folder))
        note = None if folder.is_file() else numbering_gap_note(folder, self.files)
        if note:
            warnings.warn(note, FrameGapWarning, stacklevel=2)
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
                raise FirstFrameDamaged(f"image '{path}' could not be read ({said[0] if said else 'cv2.imread failed'})"
                                        "; replace the file"
                                        + ("" if self.folder.is_file() else ", or move it out of the folder if it is "
                                           "the first frame"), self._readable_after(0, probes))
            if img is not None or self.keep_missing:
                yield Frame(i, i / self.fps, None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB),
                            damage=(path.name, first_damage(said)) if first_damage(said) and img is not None else None)

    def _readable_after(self, index: int, probes: Probes) -> int | None:
        """The index of the first frame after `index` that decodes (None: none among the next READABLE_LOOKAHEAD)."""
        for k in range(index + 1, min(len(self.files), index + 1 + READABLE_LOOKAHEAD)):
            try:
                with _quiet_opencv():
                    if read_bgr(self.files[k], probes, []) is not None:
                        return k
            except ValueError:
                return None
        return None


def frame_numbers(files: list[Path]) -> list[int] | None:
    """The number each frame's name carries (its last run of digits), where all names share one pattern and differ
    only there (frame_0001.png, frame_0002.png); None otherwise (timestamps such as 1700000000.25, mixed names)."""
    if all(DECIMAL.fullmatch(p.stem) for p in files) and any("." in p.stem for p in files):
        return None   # times in seconds (1700000000.25.png): their fractions are no frame numbers
    parts = [re.split(r"(\d+)", p.name.lower()) for p in files]
    if len(parts) < 2 or len(parts[0]) < 2 or any(len(q) != len(parts[0]) for q in parts):
        return None
    last = len(parts[0]) - 2   # re.split puts the digit runs at odd positions; this is the last one
    if any(q[:last] != parts[0][:last] or q[last + 1:] != parts[0][last + 1:] for q in parts):
        return None
    return [int(q[last]) for q in parts]


def numbering_gap_note(folder: Path, files: list[Path]) -> str | None:
    """A note when the numbers of a folder's frames (in order) mostly count up by one but skip some (0001, 0002,
    0005): frames are counted as they lie, so box-file line k and --jsonl frame k stop being the frame numbered k;
    None where no number is missing or the numbers do not count by one (every 5th frame, timestamps)."""
    numbers = frame_numbers(files)
    if numbers is None:
        return None
    steps = [b - a for a, b in zip(numbers, numbers[1:])]
    gaps = [k for k, step in enumerate(steps) if step > 1]
    if not gaps or steps.count(1) * 2 < len(steps):
        return None
    missing = sum(steps[k] - 1 for k in gaps)
    first = gaps[0]
    return (f"folder '{folder}' skips {counted(missing, 'frame number')} ({counted(len(gaps), 'gap')}; the first: "
            f"{files[first].name} is followed by {files[first + 1].name}): its frames are counted as they lie, so from "
            f"{files[first + 1].name} on the box files' lines and --jsonl's frame numbers are out of step with the "
            "numbers in the names; restore the missing frames if they must match")
