"""The NAME.part files dt run and dt serve stream each output into: names a user must not give an output, and what
must not stand at them before a run writes there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from droptrack.errors import InputError


def _unfinished_name(path: Any) -> bool:
    """NAME.part or NAME.part.EXT: the name of an output a run has not finished."""
    return str(path).endswith(".part") or Path(str(path)).stem.endswith(".part")


def check_unfinished_names(outputs: dict[str, list]) -> None:
    """No output named as an unfinished one (`--save v.part.mp4`: the next run took the finished video for a killed
    run's leftover, and --overwrite removed it); checked after the checks that name such a file more closely (another
    output's NAME.part, a running writer's)."""
    for label, paths in outputs.items():
        for o in (o for o in paths if _unfinished_name(o)):
            raise InputError(f"{label} '{o}' ends in .part, the name of an unfinished output: a later run would take "
                             "it for a killed run's leftover; pass another name")


def check_part_links(parts: list[tuple[str, Any, Path]]) -> None:
    """No symbolic link at an output's NAME.part (the run wrote through it into the file it names, and the closing
    rename left NAME a link to that file). `parts`: (label, output, its NAME.part) of every output not written in
    place."""
    for label, out, part in parts:
        if os.path.islink(part):   # a loop or a missing target too: nothing of ours
            raise InputError(f"{label} '{out}' is written as '{part}' until the run ends, and that is a symbolic link "
                             f"to '{os.readlink(part)}', which the run would write into; remove the link (the file it "
                             "names is not touched), or pass another output path")
