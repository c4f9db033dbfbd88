"""The output locks of `dt run` and `dt serve`: `.NAME.lock` beside every file they write, held with flock for the
whole run, so that a second writer of the same files is refused (--resume or not)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from droptrack import filelock


def writer_alive(path: str | Path) -> bool:
    """Whether a running `dt run` / `dt serve` holds `path`'s lock (`locked`); nothing is created or taken."""
    import fcntl

    lock = lock_path(Path(path))
    try:
        with open(lock) as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
    except OSError:   # no lock file (no run), or a file system without locks
        return False
    return False


def lock_path(path: Path) -> Path:
    """The lock file of an output: `.NAME.lock` beside it."""
    return path.with_name(f".{path.name}.lock")


def _busy(target: Path) -> str:
    """The one-line refusal when another writer holds `target`'s lock."""
    return (f"another dt run or dt serve is writing {target}; wait for it to finish (or stop it), or pass other "
            "output paths")


@contextlib.contextmanager
def locked(paths: list[Path]) -> Iterator[None]:
    """Exclusive locks on the outputs of a run (`.NAME.lock` beside each, removed at the end; the OS releases them
    if the process is killed, and the next run reuses and removes a killed run's file): a second `dt run` or `dt
    serve` onto the same files, --resume or not, is refused (droptrack.filelock: the race with an ending run)."""
    held: list[tuple[Path, int]] = []
    try:
        for path in paths:
            lock = lock_path(path)
            lock.parent.mkdir(parents=True, exist_ok=True)   # the outputs' folder is made when they are opened
            fd, _ = filelock.take(lock, _busy(path))
            held.append((lock, fd))
        yield
    finally:
        for lock, fd in reversed(held):
            filelock.release(lock, fd)
