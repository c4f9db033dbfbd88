"""Box files written as corners x1,y1,x2,y2 where the toolkits (and droptrack) read x,y,w,h.

Read as x,y,w,h, a corners file scores silently wrong: every box starts right but runs to twice its far corner. Two
checks tell such a file apart, each only on evidence no x,y,w,h file of a real target gives:
* ground truth of one's own footage (no reference to compare with): every box, read as corners, lies in the frame
  (0 <= x1 < x2 <= W, 0 <= y1 < y2 <= H, 1 px of slack for inclusive corners), while at least half of them, read as
  x,y,w,h, run past its right or bottom edge. A real box past the edge that also passes the corners test is wider than
  half the frame (x < w and x + w > W give w > W / 2), taller than its distance from the top, and in at least half the
  frames outside it: a close-up the annotation tool did not clip, not a target leaving the frame (its box passes the
  edge in its last frames only) or one near the right edge (x > w). So it is a warning (`CornerBoxFileWarning`).
* result files (`dt analyze`), against the benchmark's ground truth: read as corners, the boxes meet the ground truth
  (mean IoU >= 0.5) and read as x,y,w,h they meet it clearly worse (by 0.25 or more). A real result converted gives
  boxes narrower by x: never a better fit in both axes. Scored as it is, the number would be meaningless, so the file
  is refused and its sequence left out with that error, as other unreadable results are.
Both name the file, the numbers seen and the fix: `dt data xywh FILE` (`convert_file`) rewrites it as x,y,w,h and
keeps the original beside it as FILE.xyxy.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from droptrack.data.labels import EMPTY_FIELD
from droptrack.errors import shell_quote

SLACK = 1.0           # px: 1-based or inclusive corners may reach W (or W + 1)
MATCH_IOU = 0.5       # mean IoU, read as corners, of a result that follows the ground truth
BETTER_BY = 0.25      # how much better than read as x,y,w,h
BACKUP = ".xyxy"      # the original of a converted file, beside it


def fix_text(path: str | Path) -> str:
    """The command that converts `path` in place (its original kept as PATH.xyxy)."""
    return f"dt data xywh {shell_quote(str(path))}"


def _has_box(b: np.ndarray) -> np.ndarray:
    """Which rows of (N,4) x,y,w,h hold a box: finite, w > 0 and h > 0 (NaN and 0,0,0,0 rows: no target)."""
    return np.isfinite(b).all(axis=1) & (b[:, 2] > 0) & (b[:, 3] > 0)


def _valid(boxes: np.ndarray) -> np.ndarray:
    """The rows of (N,4) x,y,w,h that hold a box (`_has_box`)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return b[_has_box(b)]


def corner_shaped(boxes: np.ndarray) -> bool:
    """Whether every box (one at least) could be corners at all, x2 > x1 >= 0 and y2 > y1 >= 0: the cheap half of
    `ground_truth_note`, which needs the frame size (a decoded first frame) only then."""
    x, y, w, h = _valid(boxes).T
    return bool(len(x)) and bool(((x >= -SLACK) & (x < w) & (y >= -SLACK) & (y < h)).all())


def ground_truth_note(path: str | Path, boxes: np.ndarray, width: int, height: int) -> str | None:
    """The warning for a ground-truth file of a `width` x `height` footage whose rows are very likely corners (see
    the module docstring), or None."""
    b = _valid(boxes)
    if not len(b) or width <= 0 or height <= 0:
        return None
    x, y, w, h = b.T
    fits = (x >= -SLACK) & (x < w) & (w <= width + SLACK) & (y >= -SLACK) & (y < h) & (h <= height + SLACK)
    past = (x + w > width + SLACK) | (y + h > height + SLACK)
    if not fits.all() or 2 * int(past.sum()) < len(b):
        return None
    k = int(np.argmax(past))
    far = f"{x[k] + w[k]:g},{y[k] + h[k]:g}"
    return (f"{path}: {int(past.sum())} of {len(b)} boxes run past the {width}x{height} frame read as x,y,w,h (row "
            f"{_row_of(boxes, k)}: {','.join(f'{v:g}' for v in b[k])} reaches {far}), while every box read as "
            f"corners x1,y1,x2,y2 lies inside it: the file looks like x1,y1,x2,y2, and is read as x,y,w,h; if it "
            f"is, convert it: {fix_text(path)}")


def _row_of(boxes: np.ndarray, k: int) -> int:
    """The 1-based row of the k-th valid box among all rows."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    rows = np.flatnonzero(_has_box(b))
    return int(rows[k]) + 1


def as_xywh(boxes: np.ndarray) -> np.ndarray:
    """(N,4) corners x1,y1,x2,y2 as x,y,w,h."""
    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    with np.errstate(over="ignore", invalid="ignore"):   # a result row of 1e308s: inf, judged by the caller
        b[:, 2:] -= b[:, :2]
    return b


def result_problem(path: str | Path, pred: np.ndarray, gt: np.ndarray) -> str | None:
    """Why a result file reads as corners against its sequence's ground truth `gt` (see the module docstring), or
    None. Frames without a ground-truth box or a finite prediction are left out; two frames at least."""
    from droptrack.geometry import box_iou

    n = min(len(pred), len(gt))
    p, g = np.asarray(pred, np.float64)[:n].reshape(-1, 4), np.asarray(gt, np.float64)[:n].reshape(-1, 4)
    keep = _has_box(g) & np.isfinite(p).all(axis=1)
    if int(keep.sum()) < 2:
        return None
    p, g = p[keep], g[keep]
    c = as_xywh(p)
    as_is = float(np.where((p[:, 2] > 0) & (p[:, 3] > 0), box_iou(p, g), 0.0).mean())
    corners = float(np.where((c[:, 2] > 0) & (c[:, 3] > 0), box_iou(c, g), 0.0).mean())
    if corners < MATCH_IOU or corners - as_is < BETTER_BY:
        return None
    return (f"{path}: its boxes read as corners x1,y1,x2,y2 follow the ground truth (mean IoU {corners:.2f} over "
            f"{len(p)} frames) and read as x,y,w,h, as toolkits read result files, do not ({as_is:.2f}): it looks like "
            f"x1,y1,x2,y2 and would score meaningless numbers; convert it: {fix_text(path)}")


_NUMBER = re.compile(r"[^\s,;]+")   # the readers' separators: blanks, commas, semicolons
_LINE_END = re.compile(r"(\r\n|\r|\n)")   # split with it: lines at even places, their ends between


@dataclass
class Conversion:
    """A box file's x,y,w,h text, checked and not yet written (`plan_conversion`, `write_conversion`)."""

    path: Path
    backup: Path   # PATH.xyxy: the original, kept
    original: bytes   # the file's bytes, kept byte for byte
    new: bytes        # as x,y,w,h: its BOM, line endings and separators as they were
    rows: int      # rows converted


def convert_file(path: str | Path, error: type[Exception]) -> int:
    """Rewrite a box file of x1,y1,x2,y2 rows as x,y,w,h in place, each line's separators and x1,y1 text kept, rows
    without a box (NaN, 0,0,0,0) unchanged; the original is kept as PATH.xyxy. Returns the rows converted; `error`
    (one line) for a file already converted (PATH.xyxy exists), a row that is not 4 numbers or whose x2 < x1 or
    y2 < y1 (not corners)."""
    return write_conversion(plan_conversion(path, error))


def write_conversion(conv: Conversion) -> int:
    """Write a checked conversion: the original to PATH.xyxy, then PATH as x,y,w,h; returns the rows converted."""
    from droptrack.artifact import atomic_write

    mode = stat.S_IMODE(conv.path.stat().st_mode)   # a read-only box file stays read-only, and so does its copy

    def write(path: Path, data: bytes) -> None:
        def fill(tmp: Path) -> None:
            tmp.write_bytes(data)
            os.chmod(tmp, mode)
        atomic_write(path, fill)

    write(conv.backup, conv.original)
    write(conv.path, conv.new)
    return conv.rows


def plan_conversion(path: str | Path, error: type[Exception]) -> Conversion:
    """`convert_file`'s checks and new text, nothing written (several files: all checked before any is written)."""
    from droptrack.textfiles import read_table

    path = Path(path)
    if not path.name or path.is_dir():   # '.', '/': with_name below raised a ValueError traceback
        raise error(f"{path} is not a file; pass a box file of x1,y1,x2,y2 rows")
    if path.is_symlink():   # writing PATH would replace the link by a file and leave what it points at as corners
        raise error(f"{path} is a symbolic link to {path.resolve()}; convert that file itself (the link then reads "
                    "its x,y,w,h rows)")
    backup = path.with_name(path.name + BACKUP)
    if os.path.lexists(backup) and not stat.S_ISREG(os.lstat(backup).st_mode):   # a pipe's read would never end
        raise error(f"{backup} is in the way of {path.name}'s original (a folder, link or pipe, not the file dt data "
                    "xywh writes); move it away; nothing was changed")
    if backup.exists() and not (path.is_file() and backup.read_bytes() == path.read_bytes()):   # else: killed
        raise error(f"{backup} exists: {path} was converted already (its original is that file); converting it again "
                    f"would subtract x,y twice; to redo it, move {backup.name} back to {path.name} first")
    if not path.is_file():
        raise error(f"{path} is not a file; pass a box file of x1,y1,x2,y2 rows")
    from droptrack.paths import replace_denied

    why = replace_denied(path) or (None if os.access(path.parent, os.W_OK | os.X_OK) else
                                   "is in a folder closed to writing; pass a file you may rewrite")
    if why:   # several files: found before any is rewritten (the first was converted, then the second refused)
        raise error(f"{path} {why}; nothing was changed")
    read_table(path, error, "pass a box file of x1,y1,x2,y2 rows")   # its size, encoding and kind checked
    original = path.read_bytes()
    bom = original[:3] if original.startswith(b"\xef\xbb\xbf") else b""
    parts = _LINE_END.split(original[len(bom):].decode("utf-8", errors="replace"))   # lines and their ends
    out, done = list(parts), 0
    for k in range(0, len(parts), 2):
        no, line = k // 2 + 1, parts[k]
        spans = [m.span() for m in _NUMBER.finditer(line)]
        if not spans:
            continue
        if EMPTY_FIELD.search(line.strip(" \t,;")):   # '10,,20,30,40': the readers refuse it; x2 was read as y1
            raise error(f"{path}:{no}: an empty field between two separators ({line.strip()[:40]!r}), so the numbers "
                        "after it are not at their places; fix this line; nothing was changed")
        try:
            v = [float(line[a:b]) for a, b in spans]
        except ValueError:
            v = []
        if len(v) != 4:
            raise error(f"{path}:{no}: expected 4 numbers x1,y1,x2,y2, got {line.strip()[:40]!r}; nothing was changed")
        if any(math.isinf(t) for t in v):   # NaN marks a frame without the target; an infinity is no box at all
            raise error(f"{path}:{no}: an infinite value in {line.strip()[:40]!r}; write NaN (or 0,0,0,0) for a frame "
                        "without the target; nothing was changed")
        if any(math.isnan(t) for t in v) or v == [0.0] * 4:
            continue
        if v[2] < v[0] or v[3] < v[1]:
            raise error(f"{path}:{no}: x2,y2 {v[2]:g},{v[3]:g} lie before x1,y1 {v[0]:g},{v[1]:g}, so the rows are not "
                        "corners x1,y1,x2,y2; nothing was changed")
        if not math.isfinite(v[2] - v[0]) or not math.isfinite(v[3] - v[1]):   # -1e308 .. 1e308: the width overflows
            raise error(f"{path}:{no}: the box {line.strip()[:40]!r} is wider or higher than a float holds, so its "
                        "x,y,w,h would be infinite; fix this line; nothing was changed")
        w, h = (f"{d:.10g}" for d in (v[2] - v[0], v[3] - v[1]))   # 243.49999999999997 -> 243.5
        (a2, b2), (a3, b3) = spans[2], spans[3]
        out[k] = line[:a2] + w + line[b2:a3] + h + line[b3:]
        done += 1
    return Conversion(path, backup, original, bom + "".join(out).encode("utf-8"), done)
