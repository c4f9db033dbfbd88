"""TensorRT's log as droptrack keeps it: warnings and errors printed to stderr, and the recent ones remembered, so
that a failed engine build can say what TensorRT reported instead of guessing (`export.tensorrt.build_failure`).

TensorRT's own `trt.Logger` only prints; a Python `trt.ILogger` subclass sees every message (the binding calls its
`log(severity, msg)` for all severities, holding the GIL, and prints and drops anything it raises), so this one
filters to WARNING and worse itself, as `trt.Logger(trt.Logger.WARNING)` did.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from typing import Any, TextIO

from droptrack.errors import printable

WARNING = 2                       # ILogger.Severity: INTERNAL_ERROR 0, ERROR 1, WARNING 2, INFO 3, VERBOSE 4
ERROR = 1
TAGS = {0: "F", 1: "E", 2: "W"}   # as trt.Logger prints them
KEPT = 200


def recording_logger(trt, stream: TextIO | None = None, kept: int = KEPT) -> Any:
    """A `trt.ILogger` that prints messages of WARNING or worse to `stream` (stderr; control characters escaped) and
    keeps the last `kept` of them numbered: `since(mark())` are the ones logged after the mark (TensorRT logs from
    its own threads: locked)."""

    class RecordingLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self._lock = threading.Lock()
            self._count = 0
            self._recent: deque[tuple[int, int, str]] = deque(maxlen=kept)

        def log(self, severity, msg) -> None:
            level = int(severity)
            if level > WARNING:
                return
            with self._lock:   # kept first: a closed stderr must not lose it
                self._count += 1
                self._recent.append((self._count, level, str(msg)))
            # one line of text: messages name the user's graph and its nodes (names from elsewhere)
            print(f"[TRT] [{TAGS.get(level, 'E')}] {printable(msg)}", file=stream or sys.stderr, flush=True)

        def mark(self) -> int:
            """The number of messages kept so far (pass it to `since`)."""
            with self._lock:
                return self._count

        def since(self, mark: int) -> list[tuple[int, str]]:
            """(severity, message) of the messages logged after `mark`, oldest first (at most the last `kept`)."""
            with self._lock:
                return [(level, msg) for n, level, msg in self._recent if n > mark]

    return RecordingLogger()
