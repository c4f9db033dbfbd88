"""`NumberedFrames`: a sequence's frame paths as a rule (folder, first number, count, digits, suffix), not a list.

A benchmark's frames are numbered files (LaSOT img/00000001.jpg, TrackingNet 0.jpg, ...). Held as a list, LaSOT's
test set alone is 685,000 Path objects (about 150 MiB) before the first frame is tracked, and each one is pickled to
a worker with its sequence; held as a rule, a sequence costs the same at 10 frames or 10 million, and its paths are
made as they are read.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Iterator, overload

_NUMBERED = re.compile(r"(\d+)(\.[^.]+)")


class NumberedFrames(Sequence):
    """folder/<first .. first+count-1, zero-padded to `digits`><ext> (digits 0: unpadded), an immutable sequence of
    Paths equal to the list of the same paths."""

    __slots__ = ("folder", "first", "count", "digits", "ext")

    def __init__(self, folder: Path, first: int, count: int, digits: int, ext: str):
        self.folder, self.first, self.count, self.digits, self.ext = Path(folder), first, max(0, count), digits, ext

    def __len__(self) -> int:
        """Number of frames."""
        return self.count

    @overload
    def __getitem__(self, i: int) -> Path: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence: ...

    def __getitem__(self, i: Any) -> Any:
        """One frame's path; a slice is again a NumberedFrames (a list when it has a step)."""
        if isinstance(i, slice):
            start, stop, step = i.indices(self.count)
            if step != 1:
                return [self[k] for k in range(start, stop, step)]
            return NumberedFrames(self.folder, self.first + start, stop - start, self.digits, self.ext)
        k = operator.index(i)
        if k < 0:
            k += self.count
        if not 0 <= k < self.count:
            raise IndexError(f"frame {i} out of range ({self.count} frames)")
        return self.folder / self.name(k)

    def __iter__(self) -> Iterator[Path]:
        """The paths in order."""
        return (self.folder / self.name(k) for k in range(self.count))

    def _rule(self) -> tuple:
        """What the paths are made from (equal rules: equal paths)."""
        return self.folder, self.first, self.count, self.digits, self.ext

    def name(self, k: int) -> str:
        """File name of frame k (no bounds check)."""
        return f"{self.first + k:0{self.digits}d}{self.ext}"

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence (list, tuple, NumberedFrames) of the same paths in the same order."""
        if isinstance(other, NumberedFrames) and self._rule() == other._rule():
            return True
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(self) == len(other) and all(a == Path(b) for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None   # type: ignore[assignment]   # equal to lists, which are unhashable

    def __repr__(self) -> str:
        """The folder, first and last name and the count (not 11,000 paths)."""
        last = self.name(self.count - 1) if self.count else "-"
        return f"NumberedFrames('{self.folder}', {self.name(0)} .. {last}, {self.count} frames)"

    def __reduce__(self) -> tuple:
        """Pickled as its rule (a few hundred bytes to a worker process, whatever the length)."""
        return NumberedFrames, self._rule()


def compact(frames: list[Path]) -> Sequence:
    """`frames` as a NumberedFrames when they are one folder's files numbered one by one with a fixed width (or
    unpadded) and one suffix, else the list unchanged: a listed folder of numbered frames then costs no memory."""
    if not frames:
        return frames
    m = _NUMBERED.fullmatch(frames[0].name)
    if m is None:
        return frames
    digits = len(m.group(1)) if m.group(1).startswith("0") or len(frames[-1].name) == len(frames[0].name) else 0
    rule = NumberedFrames(frames[0].parent, int(m.group(1)), len(frames), digits, m.group(2))
    return rule if rule == frames else frames


def count_numbered(folder: Path, first: int, digits: int, ext: str) -> int:
    """How many frames folder/<first>, <first+1>, ... there are, found with about 2*log2(count) file checks instead
    of a listing (NfS's official 30/ folders: their annotation is at another rate); 0 when the first is absent.
    Exact when they run without a gap; with one, a count the annotation disagrees with, or a frame named missing
    when it is read."""
    rule = NumberedFrames(folder, first, 0, digits, ext)

    def there(k: int) -> bool:
        return (rule.folder / rule.name(k)).is_file()

    if not there(0):
        return 0
    lo, hi = 0, 1   # frame lo is there; hi is the first offset not yet known to be
    while there(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:   # lo there, hi absent
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if there(mid) else (lo, mid)
    return lo + 1


def probe_numbered(folder: Path, count: int, digits: tuple[int, ...] = (8, 5, 6, 4),
                   exts: tuple[str, ...] = (".jpg", ".png")) -> NumberedFrames | None:
    """The `count` frames of a folder as a rule, found with a few file checks: its first frame is numbered 0 or 1
    with one of `digits` and `exts`; None when no file is named so (the caller lists the folder). Frame 0 is tried
    before 1: a listing sorted by name starts there. Whether the others are there is not checked."""
    for nz in digits:
        for ext in exts:
            for first in (0, 1):
                rule = NumberedFrames(folder, first, count, nz, ext)
                if (rule.folder / rule.name(0)).is_file():
                    return rule
    return None


def numbered_gap(frames: Sequence, starts: tuple[int, ...] = (0, 1)) -> Path | None:
    """The first frame missing from `frames` (one folder's, in order) when all are numbered with one suffix: the
    last of `starts` where the first is none of them (a sequence's first image lost), else a number between two
    (a lost middle image shifted every later frame onto another frame's box); None when they run without a hole or
    are not all numbered (one's own names)."""
    ms = [_NUMBERED.fullmatch(Path(f).name) for f in frames]
    if not ms or not all(ms) or len({m.group(2) for m in ms}) > 1:
        return None
    digits = len(ms[0].group(1)) if ms[0].group(1).startswith("0") else 0
    expect = int(ms[0].group(1)) if int(ms[0].group(1)) in starts else starts[-1]
    for m in ms:
        if int(m.group(1)) != expect:
            return Path(frames[0]).parent / f"{expect:0{digits}d}{ms[0].group(2)}"
        expect += 1
    return None
