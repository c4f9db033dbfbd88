"""A print that finds no room in the file stdout is redirected to (`dt version > f` past `ulimit -f`, or on a full
disk): the one 'no room left writing the standard output' line and exit 2, as for any other command's output.

With PYTHONUNBUFFERED set (or `python -u`; common in container images) Python's stdout writes straight to the file
descriptor, and its text layer drops what a partial write left over: `dt version` under a 2-byte size limit wrote
'0.' and exited 0 (the write of '0.1.0\\n' wrote 2 bytes and said nothing). `whole_stdout_writes` puts a layer under
it that writes every byte or raises the error of the write that could not (EFBIG, ENOSPC)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Any, Iterator

from droptrack.errors import disk_full, full_stdout, stdout_full_message


class WholeWrites(io.RawIOBase):
    """An unbuffered binary stream over `raw` whose write writes all it is given (raw writes may write part);
    closing it leaves `raw` (stdout's own FileIO, which never closes fd 1) open."""

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self.raw = raw

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.raw.fileno()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            n = self.raw.write(view[done:])
            if n is None:   # a non-blocking descriptor that is full for now: what was written (as raw writes do)
                break
            done += n
        return done

    def flush(self) -> None:
        self.raw.flush()


@contextlib.contextmanager
def whole_stdout_writes() -> Iterator[None]:
    """While the CLI runs: an unbuffered stdout (its text layer right over the file descriptor) writes whole; a
    buffered one (Python's default) already does, and a test runner's stdout is left as it is."""
    old = sys.stdout
    raw = getattr(old, "buffer", None)
    if not isinstance(raw, io.RawIOBase) or os.name != "posix":
        yield
        return
    sys.stdout = io.TextIOWrapper(WholeWrites(raw), encoding=old.encoding, errors=old.errors, newline="\n",
                                  line_buffering=old.line_buffering, write_through=True)
    try:
        yield
    finally:
        try:
            sys.stdout.flush()
        finally:
            sys.stdout = old


def stdout_full_line(exc: BaseException) -> str | None:
    """The line for `exc` when it is a print that found no room in the file stdout goes to, else None."""
    if isinstance(exc, OSError) and disk_full(exc) and not exc.filename and (log := full_stdout()) is not None:
        return stdout_full_message(exc, log)
    return None
