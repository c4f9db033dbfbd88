"""What image decoders print about damaged files, taken off stderr and said once per sequence.

libjpeg (inside OpenCV) writes its first warning about each damaged JPEG straight to file descriptor 2 ('Corrupt
JPEG data: 3 extraneous bytes before marker 0xd9', 'Premature end of JPEG file'), and libpng its errors: a folder of
damaged frames would print a line per frame through `dt run`'s and `dt eval`'s progress bars. `quiet_decoding` takes
fd 2 away for the length of one decode, keeps those lines and hands everything else written meanwhile (by other
threads) back to stderr; `DamageLog` counts the frames that decoded despite them, for one warning per sequence.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

# libjpeg-turbo's warning texts (jerror.h JWRN_*: the only messages OpenCV's JPEG decoder lets it print), libpng's
# default error and warning lines, and OpenCV's own log lines from its image codecs
DECODER_LINE = re.compile(
    rb"(Corrupt JPEG data: [^\n]*|Premature end of JPEG file|Invalid SOS parameters for sequential JPEG"
    rb"|Inconsistent progression sequence for component [^\n]*|Warning: unknown JFIF revision number [^\n]*"
    rb"|Unknown Adobe color transform code [^\n]*|Application transferred too many scanlines"
    rb"|libpng (?:error|warning): [^\n]*"
    rb"|\[ ?[A-Z]+:\d+(?:@[\d.]+)?\] global \S*?(?:loadsave|grfmt_\w+|bitstrm|exif)\.cpp(?::\d+| \(\d+\)) [^\n]*"
    rb"(?:\n>[^\n]*)*\n?)\n")
# of those, the ones that mean the picture itself is damaged (not metadata: an odd ICC profile, an unknown TIFF tag)
DAMAGE = re.compile(r"Corrupt JPEG data|Premature end of JPEG file|libpng warning: IDAT")
SHOWN = 5   # file names a warning lists before '...'

T = TypeVar("T")

# fd 2 belongs to the whole process: two threads swapping it at once would leave it pointing at a closed file
_FD2 = threading.RLock()


class DamagedImageWarning(UserWarning):
    """Frames that decoded although their decoder reported damage (their pixels may be partly wrong)."""


def _write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd` (os.write may write less than it was given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _scratch_file() -> int:
    """A file descriptor to an empty scratch file: in memory where the OS has memfd (Linux), else in the temp dir."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("droptrack-decoder-lines", getattr(os, "MFD_CLOEXEC", 0))
    fd, name = tempfile.mkstemp(prefix="droptrack-decoder-lines-")
    os.unlink(name)
    return fd


def quiet_decoding(decode: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, list[str]]:
    """`decode(*args, **kwargs)` with fd 2 going to a scratch file meanwhile: (its result, the decoder's lines
    (DECODER_LINE)); every other byte written meanwhile is written to stderr, in order. Without an fd 2 (or a
    scratch file) it leaves stderr alone. Not covered: another thread's write whose system call began before fd 2
    is given back and ends after the scratch file's last read is lost (a window of microseconds per decode; a
    progress bar's refresh at worst).

    A function, not a context manager: a stop signal's exception (dt eval and dt train raise SIGHUP/SIGTERM) that
    came between a generator's yield and the caller's with-block left fd 2 on the scratch file, and dt eval's stop
    line went there (exit 129, empty stderr). Here the swap, the decode and the hand-back share one frame."""
    said: list[str] = []
    with _FD2, contextlib.ExitStack() as stack:
        try:
            if not hasattr(os, "pread"):   # Windows: no pread, the lines stay on stderr there
                raise OSError("no pread")
            scratch = _scratch_file()
            stack.callback(os.close, scratch)
            saved = os.dup(2)
            stack.callback(os.close, saved)
        except OSError:   # no stderr, or no scratch file: the decoder's lines stay on stderr
            return decode(*args, **kwargs), said
        stack.callback(os.dup2, saved, 2)   # an exception in the finally below still gives fd 2 back
        try:
            os.dup2(scratch, 2)
            return decode(*args, **kwargs), said
        finally:
            text = _read_from(scratch, 0)   # handed on while fd 2 still points here: other threads' order is kept
            _pass_on(saved, text, said)
            os.dup2(saved, 2)
            _pass_on(saved, _read_from(scratch, len(text)), said)   # what came in just before fd 2 was back


def _read_from(fd: int, offset: int) -> bytes:
    """All of a scratch file from `offset` on."""
    text = b""
    while chunk := os.pread(fd, 1 << 16, offset + len(text)):
        text += chunk
    return text


def _pass_on(fd: int, text: bytes, said: list[str]) -> None:
    """The decoder's lines in `text` into `said`, every other byte to `fd` (stderr)."""
    if text:
        said.extend(_line(m.group(1)) for m in DECODER_LINE.finditer(text))
        _write_all(fd, DECODER_LINE.sub(b"", text))


class _SharedQuiet:
    """OpenCV's log level belongs to the whole process (like fd 2): who silenced it first keeps the level it found,
    and the last one out puts that level back. Each saving and restoring its own level let two overlapping users
    (dt serve reads frames while its --save writer writes them) leave the log off for good: A saves INFO, B saves
    SILENT, A restores INFO while B still reads, B restores SILENT."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.saved: int | None = None

    def enter(self, log: Any) -> None:
        with self.lock:
            if self.users == 0:
                self.saved = log.getLogLevel()
                log.setLogLevel(log.LOG_LEVEL_SILENT)
            self.users += 1

    def leave(self, log: Any) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.saved is not None:
                log.setLogLevel(self.saved)
                self.saved = None


_OPENCV_QUIET = _SharedQuiet()


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log, errors too, while probing and reading (our error or a nan line says why); safe
    across threads: the level found by the first user comes back when the last one leaves (_SharedQuiet)."""
    import cv2

    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        yield
        return
    _OPENCV_QUIET.enter(log)
    try:
        yield
    finally:
        _OPENCV_QUIET.leave(log)


def _line(raw: bytes) -> str:
    """One decoder message as text, without OpenCV's log prefix."""
    text = raw.decode("utf-8", "replace").strip()
    return re.sub(r"^\[ ?[A-Z]+:\d+(?:@[\d.]+)?\] global \S+(?: \(\d+\))? ", "", text)


def first_damage(said: list[str]) -> str | None:
    """The first of a decoder's lines that says the picture is damaged (DAMAGE), or None: metadata warnings are
    kept off stderr but are no damage."""
    return next((line for line in said if DAMAGE.match(line)), None)


@dataclass
class DamageLog:
    """The frames of one sequence that decoded with decoder messages: how many, the first names, the first message
    (bounded: an endless `dt run --loop` keeps only the count growing)."""

    count: int = 0
    names: list[str] = field(default_factory=list)
    first: str = ""

    def add(self, name: str, said: list[str]) -> None:
        """Count frame `name` when its decoder said its picture is damaged (`said` from `quiet_decoding`)."""
        damage = first_damage(said)
        if damage is None:
            return
        self.count += 1
        if len(self.names) < SHOWN:
            self.names.append(name)
        self.first = self.first or damage

    def note(self, where: str) -> str | None:
        """One line about the damaged frames of `where` (None when there were none)."""
        if not self.count:
            return None
        shown = ", ".join(self.names) + (", ..." if self.count > len(self.names) else "")
        return (f"{self.count} frame(s) of {where} are damaged image files that decoded anyway ({shown}; the "
                f"decoder said: {self.first}); they were tracked as decoded, parts of them may be gray or garbled: "
                "replace them with good copies (re-download or re-extract) to track the true pixels")
