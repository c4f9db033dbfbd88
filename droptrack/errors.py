"""One exception tree for user-facing errors; every message names the problem and the fix."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

if TYPE_CHECKING:
    from rich.text import Text


class FlatTargetWarning(UserWarning):
    """A target box set on pixels of one colour (a black or fading-in first frame): there is nothing to track."""


class CornerBoxWarning(FlatTargetWarning):
    """An init box that runs past the frame's edge, where its numbers read as corners x1,y1,x2,y2 lie inside it."""


class EdgeBoxWarning(UserWarning):
    """An init box that runs past the frame's edge (a target cut by it): tracked as given, frame 0 reported clipped."""


class FrameSizeWarning(UserWarning):
    """A frame of another size than the one the targets were started in: their boxes, that frame's pixel coordinates,
    are tracked and clipped in this one (a resized stream, or frames of two cameras)."""


class CornerBoxFileWarning(UserWarning):
    """A box file read as x,y,w,h whose rows look like corners x1,y1,x2,y2 (droptrack.data.box_convention)."""


class ExtensionSettingsWarning(UserWarning):
    """Tracker-extension settings that work against each other or the model (a template refresh threshold under
    --lost-threshold, a re-acquisition search factor no wider than the model's own)."""


class OffTargetGraphWarning(UserWarning):
    """A graph made for another runtime than the one running it (TensorRT's INT8 graph in ONNX Runtime)."""


class PartialDatasetWarning(UserWarning):
    """A benchmark root holding only part of its official sequences: scores over it are not the published ones."""


class StrayImagesWarning(UserWarning):
    """Images in a folder of numbered frames named otherwise (a plot, a cover, a screenshot): left out of its frames."""


class FrameGapWarning(UserWarning):
    """A folder of numbered frames whose numbers skip some (0001, 0002, 0005): box file lines stop matching them."""


class ExtraImagesWarning(UserWarning):
    """A sequence folder holding more images than its ground truth has boxes (TNL2K): those past the last box are
    left out, as the benchmark's analysis never scores them."""


class DropTrackError(Exception):
    """A user error: the CLI prints it on one line and exits with code 2."""

    exit_code = 2


class ConfigError(DropTrackError):
    """Unknown config name, unknown key or invalid value."""


class CheckpointError(DropTrackError):
    """Missing, corrupt or mismatched checkpoint."""


class InputError(DropTrackError, ValueError):
    """Bad user input: init box, source, options; also a ValueError, what Python raises for a bad argument value
    (callers' `except ValueError` around a tracker call catches it)."""


class TrackerStateError(InputError, RuntimeError):
    """A tracker call made out of order (track before initialize, every target removed, a foreign snapshot)."""


class TargetIndexError(InputError, IndexError):
    """A target index outside the tracked targets (`remove_target`)."""


class ArgumentTypeError(InputError, TypeError):
    """A Python API argument of the wrong type (a float or text where an int index belongs, ...)."""


class SourceError(DropTrackError):
    """A frame source that cannot be opened or stops delivering."""


class DatasetError(DropTrackError):
    """Missing root or malformed dataset tree."""


class ExportError(DropTrackError):
    """Export failed or parity out of tolerance."""


class BackendError(DropTrackError):
    """An artifact cannot be run by the selected backend."""


class MetadataError(DropTrackError):
    """A model file's own description (ONNX metadata_props, engine sidecar, checkpoint meta) is malformed."""


class TrainingError(DropTrackError):
    """Training cannot start or continue (NaN loss, empty dataset, bad resume)."""


class OutputFull(DropTrackError):
    """An output's disk is full (or the file hit the file system's or ulimit's size limit)."""


FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)   # disk full, quota, file too big (FAT32's 4 GiB, ulimit -f)


def disk_full(exc: BaseException) -> bool:
    """True for an OSError that means 'no room for this write' rather than a bad path."""
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def full_error(exc: BaseException | None) -> OSError | None:
    """The disk-full OSError behind `exc`: itself, or one it was raised while handling (torch.save turns EFBIG and
    ENOSPC into a RuntimeError 'unexpected pos' whose context is the OSError; Rust writers name it as '(os error
    28)' in their message); None if there is none."""
    for _ in range(8):
        if exc is None or disk_full(exc):
            return exc
        code = re.search(r"\(os error (\d+)\)", str(exc))   # a Rust io::Error (safetensors: SafetensorError)
        if code and int(code.group(1)) in FULL_ERRNOS:
            return OSError(int(code.group(1)), os.strerror(int(code.group(1))))
        exc = exc.__cause__ or exc.__context__
    return None


def folder_where_a_file_goes(path: object) -> str:
    """dt's one line, in every command, for a folder at the name of a file it writes."""
    return (f"'{path}' is a folder where dt writes a file (nothing was put in it); move or rename that folder, or "
            "pass another output path")


def file_where_a_folder_goes(path: object) -> str:
    """dt's one line for the file `path` on the way to a folder it makes (for a NotADirectoryError's path, the
    nearest part that exists: `paths.nearest_existing`)."""
    return (f"'{path}' is a file where dt makes a folder (nothing was written into it); move or rename that file, or "
            "pass another output path")


def full_message(exc: OSError, where: object = None, kept: str = "") -> str:
    """One line for a write that found no room: which file, why, what to do, and what was kept."""
    where = where or exc.filename
    what = f"writing '{where}'" if where else "writing an output"
    kept = kept or "files written before are complete and kept, the unfinished one was not moved into place"
    fix = "pass an output on another disk"
    scratch = _temp_scratch(where) if where else None
    if scratch is not None:   # dt's own scratch files (calibration frames): TMPDIR is the fix
        fix = f"set TMPDIR to a folder on another disk (the temporary folder is {scratch})"
    return (f"no room left {what} ({exc.strerror or exc}): free space on that disk (or raise the size limit) or "
            f"{fix}; {kept}")


def _temp_scratch(path: object) -> str | None:
    """The temporary folder (TMPDIR) holding the dt-... scratch folder `path` lies in, or None; not asked of
    `tempfile.gettempdir()`, which probes by writing a file, and so fails on the full disk being reported."""
    import tempfile

    try:
        p = os.path.abspath(os.fsdecode(path))
    except TypeError:
        return None
    temps = {os.path.abspath(d) for d in (tempfile.tempdir, *(os.environ.get(v) for v in ("TMPDIR", "TEMP", "TMP")),
                                         "/tmp", "/var/tmp", "/usr/tmp") if d}
    while os.path.dirname(p) != p:
        parent = os.path.dirname(p)
        if os.path.basename(p).startswith("dt-") and parent in temps:
            return parent
        p = parent
    return None


def no_room(folder: object) -> bool:
    """The disk holding `folder` has no block left for an ordinary user's write."""
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def refused_block(folder: object) -> int | None:
    """The errno (EDQUOT, ENOSPC) with which the file system holding `folder` refuses this process one more block,
    asked with an unnamed file (O_TMPFILE, gone when closed): a used-up disk quota, which `statvfs` does not show;
    None when the block is granted or the question cannot be asked (no O_TMPFILE: not Linux, some NFS mounts)."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return None
    try:
        fd = os.open(folder, flag | os.O_WRONLY, 0o600)
    except OSError as exc:   # an inode quota refuses the file itself
        return exc.errno if exc.errno in (errno.EDQUOT, errno.ENOSPC) else None
    try:
        os.posix_fallocate(fd, 0, 1)
    except OSError as exc:
        return exc.errno if exc.errno in (errno.EDQUOT, errno.ENOSPC) else None
    finally:
        os.close(fd)
    return None


def at_size_limit(path: object) -> bool:
    """`path` has grown to the process's file-size limit (`ulimit -f`): writes past it fail with EFBIG, which
    writers such as OpenCV's only log."""
    try:
        import resource
    except ImportError:   # Windows: no such limit
        return False
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    try:
        return soft != resource.RLIM_INFINITY and os.stat(path).st_size >= soft
    except OSError:
        return False


def full_stdout() -> str | None:
    """Where stdout goes when it is a file that found no room (its disk full, or grown to the size limit): a write
    that names no file may be a print (`dt eval ... > log` on a full disk), not an output; its path ('' where
    unknown), or None."""
    try:
        fd = sys.stdout.fileno()
        st = os.fstat(fd)
    except (AttributeError, OSError, ValueError):   # no descriptor (a test runner's stdout)
        return None
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        at_limit = limit != resource.RLIM_INFINITY and st.st_size >= limit
    except ImportError:   # Windows: no such limit
        at_limit = False
    try:
        full = at_limit or os.fstatvfs(fd).f_bavail == 0
    except (AttributeError, OSError):
        full = at_limit
    if not stat.S_ISREG(st.st_mode) or not full:
        return None
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def stdout_full_message(exc: OSError, log: str) -> str:
    """The line for a print that found no room in the file stdout is redirected to (`log` from full_stdout)."""
    return (f"no room left writing the standard output{f' (redirected to {log!r})' if log else ''} "
            f"({exc.strerror or exc}): free space on that disk (or raise the size limit) or redirect it to another "
            "disk; the files dt writes itself that are complete are kept")


@contextlib.contextmanager
def room_checked(folder: object, what: object) -> Iterator[None]:
    """Writers that do not report a full disk (OpenCV, ONNX's C++ shape inference: they leave a cut file that a
    later step fails to read) or whose callers swallow the error: a failure while the disk holding `folder` has no
    room left is the one 'no room left writing WHAT' line."""
    try:
        yield
    except OutputFull:
        raise
    except Exception as exc:
        if full_error(exc) is not None:
            raise OutputFull(full_message(full_error(exc), what)) from None
        if no_room(folder):
            raise OutputFull(full_message(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), what)) from None
        raise


def detach_stdout() -> None:
    """Point stdout's descriptor at /dev/null: the interpreter's exit flush would hit the closed pipe again
    (a reader of `dt ... | head` went away)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


class GateError(DropTrackError):
    """A benchmark gate failed (exit code 1, so CI can use it)."""

    exit_code = 1


CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")   # all but tab and newline (escaped on their own)


def printable(text: object) -> str:
    """`text` on one line without control characters (\\n, \\r, \\xNN instead): names and contents of files from
    elsewhere cannot split a message into lines or send escape sequences to the terminal."""
    text = str(text).replace("\r", "\\r").replace("\n", "\\n")
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def plain_text(text: object) -> Text:
    """Text from files for a rich table's cell, header, title or caption, as a rich Text: printed as it is, read
    neither as markup ('tiny[fp16]') nor as emoji codes ('run:smile:1', which escaping markup leaves to rich),
    control characters escaped."""
    from rich.text import Text

    return Text(printable(text))


_SHELL_ESCAPED = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")   # C0, DEL, C1 and bytes that are not UTF-8


def shell_quote(word: object) -> str:
    """`word` as one bash word for a command line the user pastes: shlex's quoting, or, for a word holding control
    characters (a name from elsewhere), bash's $'...' with them as \\xNN escapes, so the line prints as text on one
    line and still names the same file."""
    import shlex

    text = str(word)
    if not _SHELL_ESCAPED.search(text):
        return shlex.quote(text)
    body = text.replace("\\", "\\\\").replace("'", "\\'")
    # the bytes the name has on disk, as \xNN: a C1 control its UTF-8 bytes (bash's \uNNNN is UTF-8 in a UTF-8
    # locale only), a byte that is not UTF-8 (os.fsdecode's surrogateescape) itself
    return "$'" + _SHELL_ESCAPED.sub(lambda m: "".join(f"\\x{b:02x}" for b in os.fsencode(m.group())), body) + "'"


def shell_join(words: Iterable[object]) -> str:
    """A command line of `words`, each quoted by `shell_quote`: it pastes into bash as these words."""
    return " ".join(shell_quote(w) for w in words)


def print_plain(console: Any, text: object) -> None:
    """One line of text that names paths or files (a user's, or from elsewhere) on a rich console as it reads: not
    rich markup ('run[/x]'), no emoji codes (':smile:'), not highlighted, control characters escaped, not wrapped."""
    console.print(printable(text), markup=False, emoji=False, highlight=False, soft_wrap=True)


def cut(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters, '...' marking the cut in its middle: a value from elsewhere may be megabytes
    long, and a long path keeps its file name, the part that tells files apart."""
    if len(text) <= limit:
        return text
    tail = (limit - 3) // 2
    return text[:limit - 3 - tail] + "..." + text[len(text) - tail:]


def shown(value: Any, limit: int = 80) -> str:
    """repr of a value from a file for an error line, cut to `limit` characters (a file from elsewhere may hold a
    value of megabytes)."""
    return cut(repr(value), limit)


def few_names(names: list[str], most: int) -> str:
    """The first `most` names (classes and functions a pickle gives), each cut to 80 characters, and how many more:
    a file from elsewhere may name thousands, each of megabytes, and the line is printed."""
    return ", ".join(cut(n) for n in names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def one_line(message: object) -> str:
    """'error: MESSAGE' on one line (newlines and other control characters escaped): what dt and the benchmark
    scripts print for a user error."""
    return "error: " + printable(message)


RANK_ERRORS = "DROPTRACK_RANK_ERRORS"   # dt train --nproc's launcher: its folder for the ranks' error lines


def say_error(line: str) -> None:
    """Print an error line on stderr; a rank of `dt train --nproc` writes it to its file in the launcher's folder
    instead (RANK_ERRORS), and the launcher prints each distinct line once (a bad input was said once per rank)."""
    folder = os.environ.get(RANK_ERRORS)
    if folder:
        try:
            with open(os.path.join(folder, f"{os.environ.get('RANK', '0')}.txt"), "a", encoding="utf-8") as f:
                f.write(line + "\n")
            return
        except OSError:   # (a full disk): said here, as one process says it
            pass
    print(line, file=sys.stderr, flush=True)


def run_script(main: Callable[[], object]) -> None:
    """A benchmark script's entry point: bad input (a DropTrackError) is one line on stderr and exit code 2, as in dt."""
    try:
        main()
    except DropTrackError as exc:
        print(one_line(exc), file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
