"""Text tables from elsewhere (result, time, annotation, label and attribute files), bounded before they are read.

A result folder or a dataset from someone else may hold a file of gigabytes, or one line of hundreds of megabytes:
read whole and split into numbers, it would take tens of times its size in memory and minutes of CPU before any
check saw it. A table larger than any benchmark sequence's, or a box row longer than a row of numbers can be, is
refused in one line instead, naming the file (and the line).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_BYTES = 32 << 20   # the longest benchmark sequences' tables (tens of thousands of rows) take a few MB
MAX_ROW = 1024         # characters in one row of box or time numbers (4 numbers take under 100)


def read_table(path: str | os.PathLike, error: type[Exception], fix: str) -> str:
    """The text of a table file without a leading UTF-8 BOM (Windows editors write one; pandas, which pytracking
    reads annotations with, skips it), or `error` (one line, ending with `fix`) when it is larger than MAX_BYTES,
    UTF-16 text (its BOM; read as UTF-8 its numbers were mojibake) or not a regular file (a named pipe in an unpacked
    result folder would block the read forever); OSError from reading passes through, for the caller's message."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):   # a folder: the read names it
        raise error(f"{path}: not a regular file (a named pipe or device, which would never end); {fix}")
    size = st.st_size
    if size > MAX_BYTES:
        raise error(f"{path}: {size / 2**20:.0f} MiB, larger than a table of any benchmark sequence "
                    f"({MAX_BYTES >> 20} MiB at most); {fix}")
    with open(path, "rb") as f:
        head = f.read(2)
    if head in (b"\xff\xfe", b"\xfe\xff"):   # Windows PowerShell 5's `>` and Notepad's 'Unicode' write UTF-16
        raise error(f"{path}: UTF-16 text (as Windows PowerShell's > redirect or Notepad's 'Unicode' writes it), "
                    f"which the benchmark toolkits cannot read; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8 '{path}' > "
                    f"NEW.txt, then put NEW.txt in its place), or {fix}")
    return Path(path).read_text(encoding="utf-8-sig", errors="replace")


def row_problem(line: str) -> str:
    """Why one line of a box or time table is not a row of numbers by its length alone ('' when it may be)."""
    if len(line) <= MAX_ROW:
        return ""
    return f"a line of {len(line)} characters, longer than a row of numbers can be ({MAX_ROW} at most)"


def holds_box_rows(path: str | os.PathLike, torn_last: bool = False) -> bool:
    """Whether `path` is a regular text file of x,y,w,h rows, as dt run's box files are (four numbers, nan for a
    frame without a box, per line): what an --overwrite run may remove as an earlier run's, never a video or a
    user's file that happens to carry a name like NAME_<k>. `torn_last`: a last line without its newline (a kill cut
    it short) is not looked at."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
            return False
        text = Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    lines = text.splitlines()
    if torn_last and lines and not text.endswith("\n"):
        lines.pop()
    rows = (line.replace(",", " ").split() for line in lines)
    return all(len(cells) == 4 and all(map(_number, cells)) for cells in rows if cells)


def _number(text: str) -> bool:
    """Whether `text` reads as a float (nan and inf included)."""
    try:
        float(text)
    except ValueError:
        return False
    return True
