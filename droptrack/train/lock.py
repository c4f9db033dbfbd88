"""One `dt train` per output folder: a second run into a folder another one is writing (started twice, a scheduler's
retry, `--resume` while the first still runs) would interleave its checkpoints with the first's and delete the
first's half-written ones as a killed run's leftovers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from droptrack.errors import TrainingError

LOCK = ".dt-train.lock"


class OutputLock:
    """Context manager: `take(folder)` holds the folder's lock (released by the OS when the process dies, even by
    SIGKILL) until the block ends; the lock file is removed then."""

    def __init__(self) -> None:
        self.handle: IO[str] | None = None
        self.path: Path | None = None

    def take(self, folder: Path) -> None:
        """Hold `folder`'s lock, or a one-line TrainingError when another process holds it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        path = Path(folder) / LOCK
        handle = open(path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino:   # its holder finished and removed it
                raise OSError
        except OSError:
            handle.close()
            raise TrainingError(f"another dt train is writing to '{folder}'; wait for it to finish (or stop it) and "
                                "then run again with --resume, or pass another --output") from None
        self.handle, self.path = handle, path

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            import fcntl

            self.path.unlink(missing_ok=True)   # still held: a finished run leaves no hidden file behind
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None
