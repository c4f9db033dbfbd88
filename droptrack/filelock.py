"""Lock files that are removed when their holder ends, shared by `dt run` / `dt serve` (runtime.outlock), `dt eval` /
`dt bench` (eval.resume), `dt train` (train.lock) and `dt export` (export.workdir).

A lock file is held with flock (the OS releases it when the process dies, even by SIGKILL) and unlinked by its holder
only while it still holds it, so a normal exit leaves no file behind and a killed run's file is reused (and then
removed) by the next one. An acquirer that opened the file just before its holder removed it would lock a file no
longer at the path: it checks, after locking, that the path still names the file it locked, and otherwise opens the
path again. A lock held shared (by several processes at once) is removed by the last of them: each converts its lock to
an exclusive one at the end, which only the last holder gets; a shared lock refused is tried again briefly, so that
such a release is not taken for an exclusive holder. Lock files stay empty: a file of the name that holds data is
somebody's, refused and never removed. A lock file this user may not write (another user's) is
locked read-only, and on a file system without working locks (flock fails other than 'held': some NFS and FUSE mounts)
the run goes on unlocked.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from pathlib import Path
from typing import Iterator

from droptrack.errors import DropTrackError, InputError


def same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd` (its holder unlinks a lock file only while holding it)."""
    try:
        st, now = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)


def in_use(lock: Path, shared: bool = False) -> bool:
    """Whether another process holds `lock` so that taking it (shared or exclusive) would be refused; nothing is made
    or taken (no lock file, a file system without locks, or no fcntl (not POSIX: runs are unlocked): False)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False

    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)   # releases a lock taken just now
    return False


def take(lock: Path, busy: str, shared: bool = False, error: type[DropTrackError] = InputError) -> tuple[int, bool]:
    """Lock `lock` (made if missing: a killed run's is reused), exclusively or `shared`: (its fd, whether flock holds
    it); a holder that excludes this kind is a one-line `error` with the message `busy`. A lock file its holder
    removed after we opened it is opened again (whoever locks the file the path names holds the lock; files are
    unlinked only by their holder)."""
    import fcntl

    retries = SHARED_RETRIES if shared else 0
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except PermissionError as denied:   # another user's lock file (flock needs no write access), or a folder
            try:                               # we may not write (the caller's one-line PermissionError, as before)
                fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                raise denied from None
        size = os.fstat(fd).st_size
        if size:   # dt's lock files stay empty: this is somebody's file of that name, never to be unlinked
            os.close(fd)
            raise error(f"'{lock}' holds {size} bytes where dt keeps an empty lock file (removed when the command "
                        "ends); move that file away")
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            removed = not same_file(fd, lock)
            os.close(fd)
            if removed:   # its holder removed it just now: lock the file at the path now
                continue
            if retries > 0:   # a shared lock's last holder holds it exclusively while it removes it: not a writer
                retries -= 1
                _pause()
                continue
            raise error(busy) from None
        except OSError:   # a file system without locks (some NFS and FUSE mounts): run unlocked
            return fd, False
        if same_file(fd, lock):
            return fd, True
        os.close(fd)   # removed by a run that just ended: lock the file at the path now


SHARED_RETRIES = 20   # a shared lock refused: tried again this often, _pause() apart, before it is a live writer's


def _pause() -> None:
    """The wait between tries of a refused shared lock (its last holder's release takes microseconds)."""
    import time

    time.sleep(0.01)


def release(lock: Path, fd: int, shared: bool = False) -> None:
    """Remove a lock file we hold (while holding it, so that a run that opened it meanwhile tries again), release; one
    held `shared` is removed only by its last holder (the others' locks keep it from becoming exclusive)."""
    try:
        if shared and not _sole_holder(fd):
            return
        if same_file(fd, lock) and not os.fstat(fd).st_size:   # written to meanwhile (an output of that name): kept
            lock.unlink()
    except OSError:
        pass
    finally:
        os.close(fd)   # releases the flock


def _sole_holder(fd: int) -> bool:
    """Whether our shared lock on `fd` is the only one: converted to exclusive if so (else it may be dropped)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:   # other processes still hold it: theirs to remove
        return False
    except OSError:   # a file system without locks: as an exclusive holder
        pass
    return True


@contextlib.contextmanager
def held(lock: Path, busy: str, error: type[DropTrackError] = InputError) -> Iterator[None]:
    """Hold `lock` for the block (see the module docstring) and remove it at the end; a holder is `error(busy)`."""
    try:
        importlib.import_module("fcntl")   # probed only: take() imports it where it locks
    except ImportError:  # pragma: no cover - not POSIX: run unlocked
        yield
        return
    fd, _ = take(lock, busy, error=error)
    try:
        yield
    finally:
        release(lock, fd)
