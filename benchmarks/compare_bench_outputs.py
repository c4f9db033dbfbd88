"""Compare two `dt bench` (or `dt demo`'s bench/) output folders: every file byte for byte, except what holds a
clock reading (`_time.txt` files, the PNG plots and bench.md that show them, and the timing keys of the JSON files).

Usage: python benchmarks/compare_bench_outputs.py DIR_A DIR_B [TEXT ...]
  TEXT: strings that differ between the two runs only by where they ran (their folder names, the trees' paths),
  replaced by one placeholder in both JSON files before they are compared. Exit 1 when anything else differs.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

TIMED = {"fps", "wall_s", "created", "latency", "memory", "loadavg_1m"}


def strip(obj: Any) -> Any:
    """The JSON value without its clock-dependent keys."""
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in TIMED}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def same(x: Path, y: Path, neutral: list[str]) -> bool | None:
    """Whether two files hold the same content (None: clock-dependent, not compared)."""
    if x.name.endswith("_time.txt") or x.suffix in (".png", ".md"):
        return None
    if x.suffix == ".json":
        tx, ty = x.read_text(), y.read_text()
        for text in neutral:
            tx, ty = tx.replace(text, "RUN"), ty.replace(text, "RUN")
        return strip(json.loads(tx)) == strip(json.loads(ty))
    if x.suffix == ".zip":   # a submission: its result files compared, its time files not
        zx, zy = zipfile.ZipFile(x), zipfile.ZipFile(y)
        names = sorted(zx.namelist())
        return names == sorted(zy.namelist()) and all(zx.read(n) == zy.read(n) for n in names
                                                      if not n.endswith("_time.txt"))
    return x.read_bytes() == y.read_bytes()


def main() -> int:
    a, b, neutral = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    files = [sorted(p.relative_to(d) for p in d.rglob("*") if p.is_file() and not p.name.startswith("."))
             for d in (a, b)]
    print(f"same file list: {files[0] == files[1]} ({len(files[0])} files)")
    counts = {True: 0, False: 0, None: 0}
    for rel in files[0]:
        if not (b / rel).is_file():
            counts[False] += 1
            print(f"missing in {b}: {rel}")
            continue
        result = same(a / rel, b / rel, neutral)
        counts[result] += 1
        if result is False:
            print(f"differs: {rel}")
    print(f"identical: {counts[True]}, differ: {counts[False]}, clock-dependent (not compared): {counts[None]}")
    return 0 if files[0] == files[1] and not counts[False] else 1


if __name__ == "__main__":
    sys.exit(main())
