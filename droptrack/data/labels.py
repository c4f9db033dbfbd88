"""Annotation files of every benchmark layout: x,y,w,h boxes (`load_boxes`) and integer labels (`load_flags`: LaSOT's
flags, GOT-10k's cover levels), read strictly so a bad row is named by line rather than scored."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from droptrack.errors import cut, DatasetError
from droptrack.textfiles import MAX_ROW, read_table, row_problem

_SPLIT = re.compile(r"[\s,;]+")
EMPTY_FIELD = re.compile(r"[,;]\s*[,;]")   # a field left empty inside a row ('1,,2,3'); runs of blanks are one
_PLAIN = re.compile(r"[0-9.,+\-eEnNaA\n]*")   # only comma-separated numbers (and UAV123's NaN rows), '\n' line ends
REDOWNLOAD = "re-download or re-extract the annotation file"


def load_boxes(path: str | Path, allow_empty: bool = False) -> np.ndarray:
    """Read an x,y,w,h GT file (',', tab or whitespace separated, mixed per line as in OTB) into (N,4) float64."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"annotation file {path} is missing; re-download or re-extract the dataset")
    text = read_table(path, DatasetError, REDOWNLOAD)
    plain = _plain_boxes(text)
    if plain is not None:
        return plain
    lines = [(no, ln.strip()) for no, ln in enumerate(text.splitlines(), 1)]
    long = next(((no, row_problem(ln)) for no, ln in lines if row_problem(ln)), None)
    if long:
        raise DatasetError(f"{path}:{long[0]}: {long[1]}; {REDOWNLOAD}")
    gap = next((no for no, ln in lines if EMPTY_FIELD.search(ln.strip(" \t,;"))), None)
    if gap is not None:   # '42,,31,40,30': five fields, one empty; dropping it moved 31 into y without a word
        raise DatasetError(f"{path}:{gap}: an empty field between two separators ({cut(lines[gap - 1][1], 60)!r}), "
                           "so the numbers after it are not at their places; fix this line or re-download the "
                           "annotation file")
    fields = [(no, [v for v in _SPLIT.split(ln) if v]) for no, ln in lines if ln]
    if all(len(f) == 4 for _, f in fields):
        try:  # fast path: one conversion for the whole file
            return _check_empty(np.array([f for _, f in fields], dtype=np.float64).reshape(-1, 4), path, allow_empty)
        except ValueError:
            pass
    for no, parts in fields:
        try:
            ok = len([float(p) for p in parts]) == 4
        except ValueError:
            ok = False
        if not ok:
            raise DatasetError(f"{path}:{no}: expected 4 numbers x,y,w,h, got {','.join(parts)[:60]!r}; "
                               "fix this line or re-download the annotation file")
    raise AssertionError("unreachable")  # pragma: no cover


def _plain_boxes(text: str) -> np.ndarray | None:
    """The rows of a plain comma-separated table of 4 numbers a line (LaSOT, GOT-10k, TrackingNet), parsed by NumPy's
    C reader, numbers as float() reads them (a LaSOT-sized test set's 685,000 rows: seconds less before the first
    frame), or None for any other text, which `load_boxes` reads line by line to name a bad line."""
    if not text.strip() or not _PLAIN.fullmatch(text) or max(map(len, text.split("\n"))) > MAX_ROW:
        return None
    try:
        rows = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError:
        return None
    return rows if rows.shape[1] == 4 else None


def _check_empty(boxes: np.ndarray, path: Path, allow_empty: bool) -> np.ndarray:
    """Reject an annotation file without rows."""
    if len(boxes) == 0 and not allow_empty:
        raise DatasetError(f"annotation file {path} has no boxes; re-download or re-extract the dataset")
    return boxes


COVER_TOP = 8   # GOT-10k's cover.label: 0 (fully hidden or absent) to 8 (fully visible); other labels are flags


def load_flags(path: str | Path, n: int | None = None, top: int = 1) -> np.ndarray:
    """Read integer labels (LaSOT one comma-separated line; GOT-10k one per line) and check the count and that each
    lies in 0..`top` (flags 1; GOT-10k's cover levels COVER_TOP): a value outside (0.5, -1, 99) changed which frames are
    scored without a word."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"label file {path} is missing; re-download or re-extract the dataset")
    text = read_table(path, DatasetError, REDOWNLOAD).strip()
    tokens = _SPLIT.split(text) if text else []
    try:   # 1 or 1.0; NaN, inf or beyond int64 refused
        floats = np.array(tokens, dtype=np.float64)
        if not ((floats >= -2.0 ** 63) & (floats < 2.0 ** 63)).all():
            raise ValueError
        vals = floats.astype(np.int64)
    except ValueError:
        raise DatasetError(f"{path}: labels must be integers; re-download the file") from None
    bad = np.flatnonzero((vals != floats) | (vals < 0) | (vals > top))
    if len(bad):
        raise DatasetError(f"{path}: label {tokens[bad[0]][:20]!r} (number {bad[0] + 1}) is not an integer from 0 to "
                           f"{top}; re-download the file")
    if n is not None and len(vals) != n:
        raise DatasetError(f"{path}: {len(vals)} labels for {n} annotated frames; re-download the sequence")
    return vals
