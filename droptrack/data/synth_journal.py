"""The journal of `dt data synth` (PROGRESS in the set's folder): its parameters, then one line per sequence written,
so that a run killed part-way resumes when started again with the same parameters and is not replaced without a word
by a run with other ones."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from droptrack.errors import InputError
from droptrack.wording import counted

PROGRESS = ".synth_progress.jsonl"   # parameters, then one line per sequence written: a killed run resumes


def file_text(path: str | Path, errors: str = "strict") -> str:
    """A set's own small file's text (journal, list.txt, marker); OSError for anything but a regular file: a named
    pipe's read never ends, nor does a signal handler's that reads it again."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise IsADirectoryError(f"{path} is not a regular file")
    return Path(path).read_text(encoding="utf-8", errors=errors)


def check_stopped_set(out: Path, params: dict, overwrite: bool) -> None:
    """A set stopped part-way in `out` with other parameters, some of its sequences finished: an InputError unless
    `overwrite` (the rerun replaced them without a word, though a complete set of other settings is refused)."""
    try:
        old = json.loads(file_text(out / PROGRESS).splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    done = journalled(out)
    if overwrite or not isinstance(old, dict) or old == params or not done:
        return
    differ = "; ".join(f"{k} {old.get(k)}, not {v}" for k, v in params.items() if old.get(k) != v)
    raise InputError(f"'{out}' holds a synthetic set stopped part-way ({counted(done, 'sequence')} written) with other "
                     f"settings ({differ}); run its own command again to finish it, pass another folder, or "
                     "--overwrite to replace it")


def journalled(out: str | Path) -> int | None:
    """How many sequences the journal of a run stopped part-way in `out` lists as finished (what its rerun keeps), or
    None where there is no journal (a complete set, or none): said when `dt data synth` is stopped."""
    try:
        lines = file_text(Path(out) / PROGRESS).splitlines()
    except (OSError, ValueError):
        return None
    return sum(1 for line in lines[1:] if line.endswith("]"))   # a line a kill cut short is not a sequence


def resumable(out: Path, params: dict, names: list[str]) -> dict:
    """{sequence: its photos} of the sequences a killed run with the same parameters wrote completely (each
    sequence is deterministic in its index, so they are kept and the run resumes after them); {} otherwise."""
    try:
        lines = file_text(out / PROGRESS).splitlines()
        if not lines or json.loads(lines[0]) != params:
            return {}
    except (OSError, ValueError):
        return {}
    done = {}
    for line in lines[1:]:
        try:
            name, photos = json.loads(line)
        except (ValueError, TypeError):
            break                        # the line a kill cut short
        if name in names and (out / name).is_dir():
            done[name] = photos
    return done
