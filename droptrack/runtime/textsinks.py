"""Streamed text sinks: official box files and JSON lines, each line written to NAME.part as its frame is tracked
and the file renamed onto NAME at close (`runtime.sinks` says why)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Callable, Union

from droptrack.errors import detach_stdout, disk_full, full_message, OutputFull
from droptrack.paths import file_stamp
from droptrack.runtime.sink_base import box_paths, call_each, part_path, Sink, TargetState
from droptrack.runtime.source_base import Frame

Keep = Union[bool, Callable[[], bool]]   # StreamFile's keep_when_full


def format_box_line(box: list[float]) -> str:
    """Official result line: x, y, w, h truncated toward zero (numpy astype(int)), tab-separated; a frame that
    could not be decoded has no box: nan nan nan nan."""
    return "\t".join(str(int(v)) if math.isfinite(v) else "nan" for v in box)


class StreamFile:
    """Line-oriented text file streamed into NAME.part (each line one write to the OS) and renamed onto NAME at
    close. When the disk fills up, the file is cut back to its last whole line and `write_line` raises OutputFull;
    that file (and, by `keep_unfinished`, every other output of the run) then stays NAME.part at close: an earlier
    run's complete NAME is never replaced by a cut one (`dt run --resume` continues NAME.part once there is room).
    `keep_when_full=False` (dt serve, which has no --resume) renames the whole lines onto NAME as at any end; a
    callable decides when the disk is full (dt serve: True where that would replace an earlier result)."""

    def __init__(self, path: str | Path, resume_lines: int | None = None, keep_when_full: Keep = True):
        self.path = Path(path)
        self.part = part_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_lines is None:
            self.fd: int | None = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        else:   # dt run --resume: NAME.part already holds the first `resume_lines` lines (runtime.resume)
            self.fd = os.open(self.part, os.O_WRONLY | os.O_APPEND)
        self.lines = resume_lines or 0
        self.size = os.fstat(self.fd).st_size   # bytes of whole lines written
        self.keep_when_full = keep_when_full
        self.full = False   # the run stopped on a full disk: NAME.part is kept as it is, not moved onto NAME
        self.synced = False   # `sync` was called (a failed one keeps NAME.part, as `full`)
        self.found = _identity(self.path)   # NAME as the run found it: another program's write meanwhile is kept
        self.clash = False   # NAME was written by another program while this run wrote NAME.part
        self.paused = False   # `pause`d: NAME.part flushed and its descriptor closed, the rename left to `close`

    def write_line(self, line: str) -> None:
        """Append one line straight to the OS (no buffer: it survives the process being killed)."""
        data = (line + "\n").encode("utf-8")
        try:
            done = 0
            while done < len(data):
                done += os.write(self.fd, data[done:])
        except OSError as exc:
            if not disk_full(exc):
                raise
            self._cut()
            self.full = self.keep_when_full() if callable(self.keep_when_full) else self.keep_when_full
            kept = (f"{self.part if self.full else self.path} keeps the {self.lines} whole lines written before (the "
                    "run stops as if interrupted)" if self.lines else
                    f"no line of {self.path} was written (the run stops as if interrupted)")   # its empty .part goes
            raise OutputFull(full_message(exc, self.part, kept)) from None
        self.size += len(data)
        self.lines += 1

    def _cut(self) -> None:
        """Drop a partly written last line (a full disk took only part of it)."""
        if self.part != self.path:
            os.ftruncate(self.fd, self.size)

    def sync(self) -> None:
        """Flush NAME.part to disk (once); where that fails, NAME.part is kept at close (`Sink.sync`)."""
        if self.fd is None or self.synced or self.part == self.path:
            return
        self.synced = True
        try:
            os.fsync(self.fd)
        except OSError as exc:   # a file system that reports a full disk only now (delayed allocation, NFS)
            self.full = True
            if disk_full(exc):
                raise OutputFull(full_message(exc, self.part)) from None
            raise

    def pause(self) -> None:
        """Flush NAME.part and close its descriptor; `close` still moves it onto NAME (dt serve: a removed target's
        file, so a session that draws targets for days does not hold a descriptor for each one ever drawn)."""
        if self.fd is None:
            return
        try:
            self.sync()
        finally:
            fd, self.fd, self.paused = self.fd, None, True
            os.close(fd)

    def close(self) -> None:
        """Flush to disk and move the file onto its final name (a run that wrote nothing replaces nothing: an
        earlier result at NAME is kept; a run a full disk stopped leaves its lines in NAME.part, NAME as it was)."""
        if self.fd is None and not self.paused:
            return
        self.paused = False
        self.pause()
        if self.part == self.path:   # written in place (/dev/null): nothing to rename
            return
        if self.lines and not self.full and _identity(self.path) != self.found:   # not replaced unseen: NAME.part
            self.full = self.clash = True   # stays, as after a full disk, and the run says whose NAME is
        if self.lines and not self.full:
            os.replace(self.part, self.path)
        elif not self.lines:
            self.part.unlink(missing_ok=True)

    def unfinished(self) -> list[tuple[Path, Path]]:
        """[(NAME.part, NAME)] where a full disk left the lines in NAME.part, else []."""
        return [(self.part, self.path)] if self.full and self.lines and self.part != self.path else []


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    """`paths.file_stamp` of NAME, None where there is none yet."""
    try:
        return file_stamp(path)
    except OSError:
        return None


class BoxFileSink(Sink):
    """Official result files (spec 6.2): one line per frame, first line = the init box; streamed (see module)."""

    def __init__(self, path: str | Path, num_targets: int, resume_lines: int | None = None,
                 keep_when_full: Keep = True):
        self.paths = box_paths(path, num_targets)
        self.files: list[StreamFile] = []
        try:
            for p in self.paths:
                self.files.append(StreamFile(p, resume_lines, keep_when_full))
        except BaseException:
            self.close()
            raise

    def write(self, frame: Frame, targets: list[TargetState], fps: float | None = None) -> None:
        for f, t in zip(self.files, targets):
            f.write_line(format_box_line(t.box))

    def sync(self) -> None:
        errors = call_each(f.sync for f in self.files)   # each one, even after another failed
        if errors:
            raise errors[0]

    def close(self) -> None:
        for f in self.files:
            f.close()

    def pause(self) -> None:
        """Every file's descriptor closed, its rename left to `close` (`StreamFile.pause`)."""
        for f in self.files:
            f.pause()

    def keep_unfinished(self) -> None:
        for f in self.files:
            f.full = True

    def unfinished(self) -> list[tuple[Path, Path]]:
        return [u for f in self.files for u in f.unfinished()]

    def clashes(self) -> list[Path]:
        return [f.path for f in self.files if f.clash]


def _finite_or_none(v: float | None, digits: int) -> float | None:
    return round(float(v), digits) if v is not None and math.isfinite(v) else None


def frame_record(frame: Frame, targets: list[TargetState]) -> dict:
    """The --jsonl record of a frame: frame, timestamp, boxes, scores, lost (and ids when targets carry them;
    `reacq` per target, where re-acquisition (--reacq-factor) is on: true while its wide search is active;
    `reconnect` {gap_s, attempts} on the first frame after a live source came back; `skipped` N when a live
    source's N stale frames were dropped before it; `unreadable` true and null boxes for a frame of a file that
    could not be decoded); strict JSON: a non-finite number becomes null."""
    rec = {"frame": frame.index, "timestamp": _finite_or_none(frame.timestamp, 6),
           "boxes": [[_finite_or_none(v, 3) for v in t.box] for t in targets],
           "scores": [_finite_or_none(t.score, 5) for t in targets],
           "lost": [bool(t.lost) for t in targets]}
    if any(t.id is not None for t in targets):
        rec["ids"] = [t.id for t in targets]
    if any(t.reacq is not None for t in targets):
        rec["reacq"] = [bool(t.reacq) for t in targets]
    gap = getattr(frame, "gap", None)
    if gap is not None:   # first frame after a live source came back
        rec["reconnect"] = {"gap_s": gap.gap_s, "attempts": gap.attempts}
    if getattr(frame, "skipped", 0):   # a live source's stale frames dropped while the tracker was busy
        rec["skipped"] = frame.skipped
    if frame.image is None:   # a damaged frame of a file: no box
        rec["boxes"] = [None] * len(targets)
        rec["unreadable"] = True
    return rec


class ReaderGone(BrokenPipeError):
    """The reader of `--jsonl -` closed stdout (`dt run ... | head`): the run stops like on a signal."""


class JsonlSink(Sink):
    """One JSON object per frame: frame, timestamp, boxes, scores, lost (and `reacq` with re-acquisition on,
    `reconnect` {gap_s, attempts} on the first frame after a live source came back: `frame_record`); `-` = stdout;
    streamed (see module).

    Every line is strict JSON: a non-finite number is written as null, never as NaN. When the reader of stdout
    goes away, `write` raises `ReaderGone` (stdout then goes to /dev/null).
    """

    def __init__(self, path: str | Path, resume_lines: int | None = None, keep_when_full: Keep = True):
        self.to_stdout = str(path) == "-"
        self.out = None if self.to_stdout else StreamFile(path, resume_lines, keep_when_full)

    def write(self, frame: Frame, targets: list[TargetState], fps: float | None = None) -> None:
        line = json.dumps(frame_record(frame, targets), allow_nan=False)
        if self.to_stdout:
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except BrokenPipeError:
                detach_stdout()
                raise ReaderGone("the reader of --jsonl - closed the pipe") from None
        else:
            self.out.write_line(line)

    def sync(self) -> None:
        if self.out is not None:
            self.out.sync()

    def close(self) -> None:
        if self.to_stdout:
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                detach_stdout()
        else:
            self.out.close()

    def keep_unfinished(self) -> None:
        if self.out is not None:
            self.out.full = True

    def unfinished(self) -> list[tuple[Path, Path]]:
        return self.out.unfinished() if self.out is not None else []

    def clashes(self) -> list[Path]:
        return [self.out.path] if self.out is not None and self.out.clash else []
