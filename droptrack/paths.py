"""Output paths checked before any work starts: the folder exists or can be made, is writable, the path is not a
folder (or, for folder outputs, not a file), not a system path, and not the same file as an input or another
output. Every problem is a one-line InputError naming the option, the path and the fix.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from droptrack.errors import InputError, printable

PathLike = str | os.PathLike
SYSTEM_ROOTS = ("/proc", "/sys")
DEVICE_OK = ("/dev/null",)
DEVICE_FOLDERS = ("/dev", "/dev/fd")   # outputs there are devices or links to open files


def _q(path: object) -> str:
    """A path in an error line, quoted, control characters escaped (a name may hold a newline)."""
    return f"'{printable(path)}'"


def _check_given(label: str, path: PathLike, kind: str) -> None:
    """A path was given: not empty, no NUL (the Python API only: argv cannot hold one)."""
    if not str(path).strip():
        raise InputError(f"{label} is empty; pass a {kind} path")
    if "\x00" in str(path):
        raise InputError(f"{label} {_q(path)} holds a NUL character, which no file name can; pass a {kind} path")


def _real(path: PathLike) -> str:
    return os.path.realpath(os.path.expanduser(str(path)))


def _under(real: str, root: str) -> bool:
    return real == root or real.startswith(root + os.sep)


def nearest_existing(path: PathLike | bytes) -> Path:
    """The nearest part of `path` that exists (itself, or a folder above it; the file a NotADirectoryError met)."""
    p = Path(os.fsdecode(path))
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def _check_not_dangling(named: str, link: Path) -> None:
    """A symbolic link to nothing where an output folder goes (or above one): one line naming its target."""
    if os.path.islink(link) and not link.exists():
        raise InputError(f"{named} is a symbolic link to {_q(os.readlink(link))}, which does not exist; make that "
                         "folder first, or pass another path")


def _check_folder_writable(label: str, path: Path, folder: Path) -> None:
    """`folder` (the output's parent, maybe not yet made) can be made and written."""
    anc = nearest_existing(folder)
    _check_not_dangling(f"{label} {_q(path)}: {_q(anc)}", anc)
    if not anc.is_dir():
        raise InputError(f"{label} {_q(path)}: {_q(anc)} is a file, not a folder; pass a path in an existing folder")
    try:
        with tempfile.TemporaryFile(dir=anc):
            pass
    except OSError as exc:
        raise InputError(f"{label} {_q(path)}: folder {_q(anc)} is not writable ({exc.strerror}); "
                         "pass a path you can write to") from None


def windows_form(path: PathLike) -> str | None:
    """The '/' form of a path written with Windows' '\\' between folders (`C:\\out\\boxes.txt`: WSL's
    '/mnt/c/out/boxes.txt'; `out\\export`: 'out/export') where '/' is the separator and no file of that name
    exists, else None: there '\\' is a letter of a name, not a folder's end. Only the part below the nearest existing
    folder counts (`runs\\v2/boxes.txt` in an existing folder named 'runs\\v2' is the user's name)."""
    text = str(path)
    if os.sep != "/" or "\\" not in text:
        return None
    parts = text.split("/")
    kept = len(parts)   # the leading parts that name an existing path
    while kept and not os.path.lexists(os.path.expanduser("/".join(parts[:kept]) or "/")):
        kept -= 1
    rest = "/".join(parts[kept:])
    if "\\" not in rest:
        return None
    if kept == 0 and re.match(r"[A-Za-z]:\\", text):   # a drive of WSL's Windows
        return f"/mnt/{text[0].lower()}/{text[3:]}".replace("\\", "/")
    return "/".join(parts[:kept] + [rest.replace("\\", "/")])


def windows_note(path: PathLike) -> str:
    """'; it separates folders with '\\' as Windows does ...' for a missing input written the Windows way (its
    not-found error then says why and gives the '/' form, as outputs' errors do), else ''."""
    fix = windows_form(path)
    if fix is None:
        return ""
    return f"; it separates folders with '\\' as Windows does; this system uses '/': e.g. {_q(fix)}"


def check_separators(label: str, path: PathLike) -> None:
    """An output path with Windows' '\\' between folders (`-o C:\\out\\boxes.txt`, `-o out\\export`) where '/' is
    the separator: there '\\' is a letter of a name, so a file or folder named 'C:\\out\\boxes.txt' was made in
    the current folder. An existing path of that name is the user's and stays allowed."""
    fix = windows_form(path)
    if fix is not None:
        raise InputError(f"{label} {_q(path)} separates folders with '\\' as Windows does; this system uses '/': pass "
                         f"e.g. {_q(fix)}")


def check_reachable(label: str, path: PathLike) -> None:
    """A path whose folders this user may enter (pathlib's exists/is_dir raise PermissionError under e.g. /root)."""
    try:
        os.stat(os.path.expanduser(str(path)))
    except PermissionError:
        raise InputError(f"{label} {_q(path)}: a folder above it is closed to this user (Permission denied); pass a "
                         "path you can write to") from None
    except (OSError, ValueError):   # missing (made later), or a name the checks below refuse
        pass


def _check_not_system(label: str, path: PathLike) -> str:
    real = _real(path)
    root = next((r for r in SYSTEM_ROOTS if _under(real, r)), None)
    if root is not None:
        raise InputError(f"{label} {_q(path)} is under {root}, a kernel file system; pass a path in an ordinary folder")
    return real


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name the same file (hard links and symlinks included; missing files by real path)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return _real(a) == _real(b)


def check_distinct(paths: Iterable[PathLike], what: str) -> None:
    """Each input once: the same file or folder twice (also by another path or a link) was read twice, as two rows
    with the same numbers."""
    seen: list[PathLike] = []
    for a in paths:
        twin = next((b for b in seen if same_file(a, b)), None)
        if twin is not None:
            kind = "folder" if os.path.isdir(a) else "file"
            shown = _q(a) if str(a) == str(twin) else f"{_q(twin)} and {_q(a)} (the same {kind})"
            raise InputError(f"{shown} is given twice; pass each {what} once")
        seen.append(a)


def check_readable(label: str, path: PathLike, error: type[Exception] = InputError) -> None:
    """An input file this user may read: root reads anything, so only a non-root user meets this (a 0600 file of
    another user was reported as corrupt or undecodable)."""
    p = os.path.expanduser(str(path))
    if os.path.isfile(p) and not os.access(p, os.R_OK):
        raise error(f"{label} {_q(path)} is not readable by this user (Permission denied); fix its permissions "
                    "(e.g. chmod a+r) or pass a copy you can read")


def check_regular(label: str, path: PathLike, error: type[Exception] = InputError) -> None:
    """An existing input that is neither a regular file nor a folder (a named pipe, device or socket) -> one-line
    `error`: it was refused as 'not found', though it exists (reading it would wait for a writer or never end)."""
    try:
        mode = os.stat(os.path.expanduser(str(path))).st_mode
    except OSError:   # missing: the caller's 'not found'
        return
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise error(f"{label} {_q(path)} is not a regular file (a named pipe, device or socket, which reading would "
                    "wait on or never end); save what it carries to a file and pass that file")


def replace_denied(path: PathLike) -> str | None:
    """Why this user may not replace the existing file `path` (outputs are written beside it and renamed onto it), or
    None: it is read-only, or another user's file in a sticky folder such as /tmp (root may do both)."""
    p = os.path.expanduser(str(path))
    try:
        st, folder_st = os.stat(p), os.stat(os.path.dirname(os.path.abspath(p)))
    except OSError:
        return None
    if not os.access(p, os.W_OK):
        return "is read-only; pass another path or make it writable"
    if (stat.S_ISREG(st.st_mode) and folder_st.st_mode & stat.S_ISVTX
            and os.geteuid() not in (0, st.st_uid, folder_st.st_uid)):
        return (f"belongs to another user in the sticky folder {_q(os.path.dirname(os.path.abspath(p)))}, where only "
                "its owner may replace it; pass another path")
    return None


def writes_in_place(path: PathLike) -> bool:
    """An existing output that is not a regular file or folder (/dev/null): written directly, since a temporary file
    renamed onto it would replace the device itself (as root, /dev/null becomes a regular file for the whole system)."""
    try:
        mode = os.stat(os.path.expanduser(str(path))).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


EXAMPLE_NAMES = {"--save": "out.mp4", "--jsonl": "out.jsonl", "--output": "out.txt"}   # a name each option takes


def check_not_folder(label: str, path: PathLike) -> None:
    """An output file's path does not name a folder: an existing one, 'out/' (even before it exists), or '.' and '/',
    whose empty name has no NAME.part to stream into."""
    p = Path(os.path.expanduser(str(path)))
    if p.is_dir() or not p.name or str(path).endswith(("/", os.sep)):
        raise InputError(f"{label} {_q(path)} is a folder; pass a file path inside it, e.g. "
                         f"{_q(p / EXAMPLE_NAMES.get(label, 'out'))}")


def check_output_file(label: str, path: PathLike, inputs: Iterable[PathLike | None] = ()) -> Path:
    """One output file: not a folder, not a device or system file, folder writable, not one of `inputs`."""
    p = Path(os.path.expanduser(str(path)))
    _check_given(label, path, "file")
    check_separators(label, path)
    check_reachable(label, p)
    stdout = "; JSON lines to stdout: --jsonl -" if label == "--jsonl" else ""
    folder = os.path.dirname(os.path.abspath(p))
    folder = folder if folder in DEVICE_FOLDERS else os.path.realpath(folder)   # '/tmp/x -> /dev': /tmp/x/stdout
    if folder not in DEVICE_FOLDERS:   # /dev/stdout into a pipe resolves to /proc/self/fd/1: named by its /dev path
        _check_not_system(label, p)
    check_not_folder(label, path)
    if p.exists() and not stat.S_ISREG(p.stat().st_mode) and _real(p) not in DEVICE_OK:
        raise InputError(f"{label} {_q(path)} is not a regular file (a device, pipe or socket); pass a file "
                         f"path{stdout}")
    if folder in DEVICE_FOLDERS and _real(p) not in DEVICE_OK:   # /dev/stdout: a link, not the file behind it
        raise InputError(f"{label} {_q(path)} is in {folder}, the device folder (a file made there, or renamed onto "
                         "a link such as /dev/stdout, replaces it for the whole system); pass a file path, e.g. the "
                         f"file stdout is redirected to{stdout}")
    for src in inputs:
        if src is not None and os.path.lexists(os.path.expanduser(str(src))) and same_file(p, src):
            raise InputError(f"{label} {_q(path)} is the input {_q(src)}; writing it would destroy the input - "
                             "pass another output path")
    if os.path.islink(p) and not writes_in_place(p):   # a link to a file, or to nothing (a link to /dev/null is fine)
        raise InputError(f"{label} {_q(path)} is a symbolic link to {_q(os.readlink(p))}: the finished file would "
                         "replace the link, not fill what it points to; pass that path itself, or another name")
    why = replace_denied(p)
    if why is not None:
        raise InputError(f"{label} {_q(path)} exists and {why}")
    if not writes_in_place(p):   # /dev/null is written in place: its folder need not be writable
        _check_folder_writable(label, p, p.parent)
    return p


def check_outputs(outputs: Mapping[str, PathLike | Iterable[PathLike] | None],
                  inputs: Iterable[PathLike | None] = ()) -> None:
    """Several output files (label -> path or paths): each checked, and no two the same file."""
    inputs = list(inputs)
    seen: list[tuple[str, PathLike]] = []
    for label, value in outputs.items():
        if value is None:
            continue
        for path in ([value] if isinstance(value, (str, os.PathLike)) else list(value)):
            check_output_file(label, path, inputs)
            other = next((lab for lab, q in seen if same_file(path, q) and _real(path) not in DEVICE_OK), None)
            if other is not None:
                raise InputError(f"{label} {_q(path)} is the same file as {other}; give each output its own path")
            for lab, q in seen:   # -o f/x.txt --jsonl f: one would be made a folder, the other written over it
                a, b = Path(_real(path)), Path(_real(q))
                if a in b.parents or b in a.parents:
                    inner, outer = (lab, label) if a in b.parents else (label, lab)
                    raise InputError(f"{inner} {_q(q if inner == lab else path)} lies inside {outer} "
                                     f"{_q(path if inner == lab else q)}, which is written as a file; give each "
                                     "output its own path")
            seen.append((label, path))


def check_output_dir(label: str, path: PathLike, inputs: Iterable[PathLike | None] = ()) -> Path:
    """An output folder: not a file, not a system path, can be made and written, not one of `inputs`."""
    p = Path(os.path.expanduser(str(path)))
    _check_given(label, path, "folder")
    check_separators(label, path)
    check_reachable(label, p)
    _check_not_system(label, p)
    _check_not_dangling(f"{label} {_q(path)}", p)   # it read 'is a file, not a folder'
    if os.path.lexists(p) and not p.is_dir():
        raise InputError(f"{label} {_q(path)} is a file, not a folder; pass a folder path")
    for src in inputs:
        if src is not None and os.path.lexists(os.path.expanduser(str(src))) and same_file(p, src):
            raise InputError(f"{label} {_q(path)} is the input {_q(src)}; pass another output folder")
    _check_folder_writable(label, p, p)
    return p


@contextlib.contextmanager
def removed_if_left_empty(path: PathLike) -> Iterator[None]:
    """For a block that makes the output folder `path` (with the folders above it): when the block ends by an
    exception (an error, Ctrl-C), the folders it made that are still empty are removed, deepest first, so that a
    command that wrote nothing leaves no new empty folder; a folder that existed before, or holds anything, is kept.
    `path` as the block makes it (`~` expanded by the caller where it expands it)."""
    full = Path(os.path.abspath(path))
    made = [p for p in (full, *full.parents) if not os.path.lexists(p)]   # the deepest first
    try:
        yield
    except BaseException:
        for p in made:
            try:
                p.rmdir()   # an empty folder only; a file or link there now is not ours: kept
            except FileNotFoundError:
                continue
            except OSError:
                break   # not empty: the folders above hold it
        raise


def check_not_inside(label: str, path: PathLike, root: PathLike | None, what: str) -> None:
    """An output folder outside an input folder (`what` names it): results written into a dataset root would be
    listed as its sequences by the next run."""
    if root is None or not os.path.isdir(os.path.expanduser(str(root))):
        return
    out, base = Path(_real(path)), Path(_real(root))
    if out == base or base in out.parents:
        raise InputError(f"{label} {_q(path)} is inside the {what} {_q(root)} (results there would be read as its "
                         "sequences); pass an output folder outside it")


def check_name(label: str, name: str) -> str:
    """A single file/folder name (no separators, not '.' or '..'): keeps results inside their output folder."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise InputError(f"{label} {name!r} must be a plain name without '/' or '..'; e.g. {label} mytracker")
    return name


RESULT_MARKERS = {"eval.json": "dt eval", "bench.json": "dt bench"}


def check_not_results(label: str, path: PathLike, markers: Iterable[str]) -> None:
    """An output folder that holds no other command's results (named by their marker files, RESULT_MARKERS): its
    report.json and plots would be overwritten."""
    folder = Path(os.path.expanduser(str(path)))
    for marker in markers:
        if (folder / marker).is_file():
            raise InputError(f"{label} {_q(path)} holds {RESULT_MARKERS[marker]}'s results ({marker}), whose "
                             "report.json and plots would be overwritten; pass another folder")


def file_stamp(path: PathLike) -> tuple[int, int, int, int]:
    """(device, inode, size, mtime in ns) of the file at `path` (OSError where there is none): tells the same file
    from one written or replaced since, without reading it."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _is_file(path: Path) -> bool:
    """Path.is_file, False where the folder is closed to this user (the output checks name that, as the option's)."""
    try:
        return path.is_file()
    except OSError:
        return False


def check_not_in_results(outputs: Mapping[str, Iterable[PathLike]]) -> None:
    """No output file inside another command's results folder (its marker file beside it, RESULT_MARKERS): that
    command writes, replaces and scores the files there (a dt run box file named as a sequence's result was
    replaced by a running dt eval, or replaced its result, and the report scored another tracker's boxes)."""
    for label, paths in outputs.items():
        for path in paths:
            folder = Path(os.path.expanduser(str(path))).parent
            marker = next((m for m in RESULT_MARKERS if _is_file(folder / m)), None)
            if marker is not None:
                raise InputError(f"{label} {_q(path)} is inside {RESULT_MARKERS[marker]}'s results folder "
                                 f"({marker} there), whose files it writes and scores; pass a path outside it")


def check_not_finished(outputs: Mapping[str, Iterable[PathLike]], flag: str = "--overwrite") -> None:
    """No output file that already holds data (a finished or stopped run's results, or any other file): it would be
    replaced when the run ends. An empty file, /dev/null and other non-regular paths are fine; `flag` allows it."""
    for label, paths in outputs.items():
        for path in paths:
            p = Path(os.path.expanduser(str(path)))
            if p.is_file() and p.stat().st_size > 0:
                raise InputError(f"{label} {_q(path)} already exists and holds data that this run would replace; pass "
                                 f"{flag} to replace it, or another {label} path")


_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^/@:\s]*):[^/\s]*@", re.I)   # scheme://user:PASSWORD@


def masked(spec: str | int | Path) -> str:
    """A source as logs, errors and dt serve's page show it: a URL's password (user:PASSWORD@) as ***."""
    return _URL_PASSWORD.sub(r"\1:***@", str(spec))


def cache_root() -> Path:
    """droptrack's cache folder: $DT_CACHE_DIR when set, else ~/.cache/droptrack (TensorRT engines and ORT's caches)."""
    return Path(os.environ.get("DT_CACHE_DIR") or Path.home() / ".cache" / "droptrack")


def temp_target(path: str | bytes | None) -> Path | None:
    """The file a temporary `.<name>.<8 characters>.tmp` (`artifact._new_temp`) is written for, or None."""
    if not path:
        return None
    p = Path(os.fsdecode(path))
    m = re.fullmatch(r"\.(.+)\.[a-z0-9_]{8}\.tmp", p.name)
    return p.with_name(m.group(1)) if m else None
