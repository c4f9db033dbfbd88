"""The output locks of `dt run` and `dt serve`: `.NAME.lock` beside every file they write, held with flock for the
whole run, so that a second writer of the same files is refused (--resume or not)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from droptrack.errors import InputError


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


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd` (its holder unlinks a lock file only while holding it)."""
    try:
        st, now = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)


def _take(lock: Path, target: Path) -> tuple[int, bool]:
    """Lock `lock` (made if missing: a killed run's is reused): (its fd, whether flock holds it); another holder is a
    one-line error. A lock file its holder removed after we opened it is opened again (whoever locks the file the
    path names holds the lock; files are unlinked only by their holder)."""
    import fcntl

    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except PermissionError as denied:   # another user's lock file (flock needs no write access), or a folder
            try:                               # we may not write (the caller's one-line PermissionError, as before)
                fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                raise denied from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(f"another dt run or dt serve is writing {target}; wait for it to finish (or stop it), "
                             "or pass other output paths") from None
        except OSError:   # a file system without locks (some NFS and FUSE mounts): run unlocked
            return fd, False
        if _same_file(fd, lock):
            return fd, True
        os.close(fd)   # removed by a run that just ended: lock the file at the path now


def _release(lock: Path, fd: int) -> None:
    """Remove a lock file we hold (while holding it, so that a run that opened it meanwhile tries again), release."""
    try:
        if _same_file(fd, lock):
            lock.unlink()
    except OSError:
        pass
    finally:
        os.close(fd)   # releases the flock


@contextlib.contextmanager
def locked(paths: list[Path]) -> Iterator[None]:
    """Exclusive locks on the outputs of a run (`.NAME.lock` beside each, removed at the end; the OS releases them
    if the process is killed, and the next run reuses and removes a killed run's file): a second `dt run` or `dt
    serve` onto the same files, --resume or not, is refused."""
    held: list[tuple[Path, int]] = []
    try:
        for path in paths:
            lock = lock_path(path)
            lock.parent.mkdir(parents=True, exist_ok=True)   # the outputs' folder is made when they are opened
            fd, _ = _take(lock, path)
            held.append((lock, fd))
        yield
    finally:
        for lock, fd in reversed(held):
            _release(lock, fd)
