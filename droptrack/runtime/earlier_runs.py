"""The files of an earlier run onto dt run's --output that a complete --overwrite run with another number of targets
does not write (NAME_<k> beyond its own, NAME beside NAME_<k>): removed once it is complete, so the folder holds one
run's files; never a file that is not box rows, one a running dt run or dt serve writes, or NAME_<k> files that are
not one run's."""

from __future__ import annotations

import itertools
from pathlib import Path

from droptrack.runtime import outlock
from droptrack.runtime.sink_base import numbered_path
from droptrack.textfiles import holds_box_rows


def earlier_targets(output: str, num_targets: int) -> list[Path]:
    """The files an earlier run onto `output` with another number of targets wrote that this run does not: NAME
    (one target) where this run writes NAME_<k>, and NAME_<k> numbered on from this run's last (NAME_0 on where it
    writes NAME alone), up to the first number missing; files a running dt run / dt serve writes left out, and any
    that is not a box file (the run's own source named so, a user's video: --overwrite deleted them), and NAME_<k>
    files that are not one run's (`one_run`)."""
    path = Path(output)
    found = [path] if num_targets > 1 and path.is_file() else []
    k = num_targets if num_targets > 1 else 0
    while numbered_path(path, k).is_file():
        found.append(numbered_path(path, k))
        k += 1
    family = list(itertools.takewhile(Path.is_file, (numbered_path(path, k) for k in itertools.count())))   # NAME_k
    if not one_run(family):   # separate runs' (-o run_0.txt, then -o run_1.txt): --overwrite deleted them
        found = [p for p in found if p not in family]
    return [p for p in found if not outlock.writer_alive(p) and holds_box_rows(p)]


def one_run(files: list[Path], within_s: float = 2.0) -> bool:
    """Whether NAME_0, NAME_1, ... are one multi-target run's: as many lines each (a line per frame) and closed
    within `within_s` of each other (a run renames them onto their names together); files of separate runs, which
    a user may have numbered so, are not."""
    try:
        stats = [(p.stat().st_mtime, p.read_bytes().count(b"\n")) for p in files]
    except OSError:
        return False
    times = [t for t, _ in stats]
    return len({n for _, n in stats}) <= 1 and (not times or max(times) - min(times) <= within_s)


def remove_earlier(paths: list[Path]) -> list[Path]:
    """Remove an earlier run's files that a complete --overwrite run replaced (`earlier_targets`); those removed."""
    removed = []
    for p in paths:
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed
