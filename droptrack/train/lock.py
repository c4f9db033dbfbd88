"""One `dt train` per output folder: a second run into a folder another one is writing (started twice, a scheduler's
retry, `--resume` while the first still runs) would interleave its checkpoints with the first's and delete the
first's half-written ones as a killed run's leftovers. Only the process that writes the folder takes the lock (rank 0
under torchrun: the other ranks write nothing there)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from droptrack import filelock
from droptrack.errors import TrainingError

LOCK = ".dt-train.lock"


class OutputLock:
    """Context manager: `take(folder)` holds the folder's lock until the block ends, then removes the lock file (a
    killed run's is reused and removed by the next run; no working locks: unlocked; droptrack.filelock)."""

    def __init__(self) -> None:
        self.stack = contextlib.ExitStack()

    def take(self, folder: Path) -> None:
        """Hold `folder`'s lock, or a one-line TrainingError when another process holds it."""
        self.stack.enter_context(filelock.held(Path(folder) / LOCK, busy_message(folder), TrainingError))

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()


def busy_message(folder: Path) -> str:
    """The one line for a folder another dt train is writing."""
    return (f"another dt train is writing to '{folder}'; wait for it to finish (or stop it) and then run again with "
            "--resume, or pass another --output")


ORPHAN_WAIT_S = 10.0   # a SIGKILLed run's DataLoader workers hold its (inherited) lock until they notice, ~5 s


def check_free(folder: Path, wait_s: float = ORPHAN_WAIT_S) -> None:
    """A TrainingError before any work when another dt train holds `folder`'s lock: a peek, as the run takes the lock
    itself only once its inputs are checked (it may make the folder only then). A held lock is watched for `wait_s`
    first: the data-loading workers of a run killed by SIGKILL (the OOM killer) inherited its lock and hold it a few
    seconds more, so a scheduler's immediate --resume was told another run was writing."""
    import time

    lock = Path(folder) / LOCK
    deadline = time.monotonic() + wait_s
    while Path(folder).is_dir() and filelock.in_use(lock):
        if time.monotonic() >= deadline:
            raise TrainingError(busy_message(folder))
        time.sleep(0.25)
