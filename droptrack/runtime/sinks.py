"""Where tracking results go: official box files, JSON lines, annotated video (the --show window: window.py).

Each sink has `write(frame, results)` and `close()`; `close()` is always called (the loop's `finally`), so an
interrupted run leaves valid files. Box files and JSON lines are streamed: every frame's line is written and
flushed into `NAME.part` as soon as the frame is tracked (memory stays constant on an endless source, and after
a `kill -9` the `.part` file holds every frame but at most the one in flight); `close()` renames the `.part`
file onto NAME, so NAME only ever holds a completed run. The video writer is released at close (the index is
written, players and OpenCV can read it).
"""

from __future__ import annotations

import errno
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from droptrack.errors import (InputError, OutputFull, at_size_limit, detach_stdout, disk_full, full_message, no_room,
                              refused_block)
from droptrack.paths import writes_in_place
from droptrack.runtime.sources import Frame


@dataclass
class TargetState:
    """One target in one frame: box x,y,w,h (image pixels), score (None on its init frame), lost flag, and the
    target's id where targets come and go (dt serve; None in dt run, where the index is the identity)."""

    box: list[float]
    score: float | None
    lost: bool
    id: int | None = None


class Sink:
    """Receives every frame with its target states."""

    def write(self, frame: Frame, targets: list[TargetState], fps: float | None = None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release; called once, also after errors or Ctrl-C."""


def numbered_path(path: str | Path, k: int) -> Path:
    """`boxes.txt` -> `boxes_<k>.txt`: target k's file where there are several (dt run) or they come and go
    (dt serve, where k is the target's id)."""
    path = Path(path)
    return path.with_name(f"{path.stem}_{k}{path.suffix}")


def box_paths(path: str | Path, num_targets: int) -> list[Path]:
    """`boxes.txt` for one target; `boxes_0.txt`, `boxes_1.txt`, ... (in --init order) for several."""
    if num_targets == 1:
        return [Path(path)]
    return [numbered_path(path, k) for k in range(num_targets)]


def format_box_line(box: list[float]) -> str:
    """Official result line: x, y, w, h truncated toward zero (numpy astype(int)), tab-separated; a frame that
    could not be decoded has no box: nan nan nan nan."""
    return "\t".join(str(int(v)) if math.isfinite(v) else "nan" for v in box)


def part_path(path: str | Path) -> Path:
    """Where a streamed file is written until the run ends (renamed onto `path` at close); `path` itself for a
    device such as /dev/null (renaming a file onto it would replace the device)."""
    path = Path(path)
    return path if writes_in_place(path) else path.with_name(path.name + ".part")


def video_part_path(path: str | Path) -> Path:
    """Where --save writes until the run ends: NAME.part.EXT (the container suffix stays last for OpenCV); `path`
    itself for a device, as `part_path`."""
    path = Path(path)
    return path if writes_in_place(path) else path.with_name(f"{path.stem}.part{path.suffix}")


class StreamFile:
    """Line-oriented text file streamed into NAME.part (each line one write to the OS) and renamed onto NAME at
    close. When the disk fills up, the file is cut back to its last whole line, closed and renamed like an
    interrupted run's, and `write_line` raises OutputFull."""

    def __init__(self, path: str | Path, resume_lines: int | None = None):
        self.path = Path(path)
        self.part = part_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_lines is None:
            self.fd: int | None = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        else:   # dt run --resume: NAME.part already holds the first `resume_lines` lines (runtime.resume)
            self.fd = os.open(self.part, os.O_WRONLY | os.O_APPEND)
        self.lines = resume_lines or 0
        self.size = os.fstat(self.fd).st_size   # bytes of whole lines written

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
            kept = (f"{self.path} keeps the {self.lines} whole lines written before (the run stops as if "
                    "interrupted)")
            raise OutputFull(full_message(exc, self.part, kept)) from None
        self.size += len(data)
        self.lines += 1

    def _cut(self) -> None:
        """Drop a partly written last line (a full disk took only part of it)."""
        if self.part != self.path:
            os.ftruncate(self.fd, self.size)

    def close(self) -> None:
        """Flush to disk and move the file onto its final name (a run that wrote nothing replaces nothing: an
        earlier result at NAME is kept)."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        if self.part == self.path:   # written in place (/dev/null): nothing to sync or rename
            os.close(fd)
            return
        try:
            os.fsync(fd)
        except OSError as exc:   # a file system that reports a full disk only now (delayed allocation, NFS)
            os.close(fd)
            if disk_full(exc):
                raise OutputFull(full_message(exc, self.part)) from None
            raise
        os.close(fd)
        if self.lines:
            os.replace(self.part, self.path)
        else:
            self.part.unlink(missing_ok=True)


class BoxFileSink(Sink):
    """Official result files (spec 6.2): one line per frame, first line = the init box; streamed (see module)."""

    def __init__(self, path: str | Path, num_targets: int, resume_lines: int | None = None):
        self.paths = box_paths(path, num_targets)
        self.files: list[StreamFile] = []
        try:
            for p in self.paths:
                self.files.append(StreamFile(p, resume_lines))
        except BaseException:
            self.close()
            raise

    def write(self, frame: Frame, targets: list[TargetState], fps: float | None = None) -> None:
        for f, t in zip(self.files, targets):
            f.write_line(format_box_line(t.box))

    def close(self) -> None:
        for f in self.files:
            f.close()


def _finite_or_none(v: float | None, digits: int) -> float | None:
    return round(float(v), digits) if v is not None and math.isfinite(v) else None


def frame_record(frame: Frame, targets: list[TargetState]) -> dict:
    """The --jsonl record of a frame: frame, timestamp, boxes, scores, lost (and ids when targets carry them;
    `reconnect` {gap_s, attempts} on the first frame after a live source came back; `skipped` N when a live
    source's N stale frames were dropped before it; `unreadable` true and null boxes for a frame of a file that
    could not be decoded); strict JSON: a non-finite number becomes null."""
    rec = {"frame": frame.index, "timestamp": _finite_or_none(frame.timestamp, 6),
           "boxes": [[_finite_or_none(v, 3) for v in t.box] for t in targets],
           "scores": [_finite_or_none(t.score, 5) for t in targets],
           "lost": [bool(t.lost) for t in targets]}
    if any(t.id is not None for t in targets):
        rec["ids"] = [t.id for t in targets]
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
    """One JSON object per frame: frame, timestamp, boxes, scores, lost (and `reconnect` {gap_s, attempts} on the
    first frame after a live source came back); `-` = stdout; streamed (see module).

    Every line is strict JSON: a non-finite number is written as null, never as NaN. When the reader of stdout
    goes away, `write` raises `ReaderGone` (stdout then goes to /dev/null).
    """

    def __init__(self, path: str | Path, resume_lines: int | None = None):
        self.to_stdout = str(path) == "-"
        self.out = None if self.to_stdout else StreamFile(path, resume_lines)

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

    def close(self) -> None:
        if self.to_stdout:
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                detach_stdout()
        else:
            self.out.close()


COLORS = [(0, 255, 0), (255, 128, 0), (0, 160, 255), (255, 0, 255), (255, 255, 0), (0, 255, 255)]
LOST_COLOR = (255, 0, 0)


def annotate(image: np.ndarray, targets: list[TargetState], fps: float | None = None) -> np.ndarray:
    """BGR copy of an RGB frame with boxes, target index, score (LOST when flagged) and the FPS."""
    import cv2

    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        out = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)   # the channels swapped, ~30x faster than numpy's strided copy
    else:
        out = np.ascontiguousarray(image[:, :, ::-1])
    scale = max(0.35, min(out.shape[:2]) / 600.0)
    for k, t in enumerate(targets):
        k = k if t.id is None else t.id
        rgb = LOST_COLOR if t.lost else COLORS[k % len(COLORS)]
        color = rgb[::-1]
        x, y, w, h = (int(round(v)) for v in t.box)
        cv2.rectangle(out, (x, y), (x + w, y + h), color, max(1, int(2 * scale)))
        label = f"{k}" + ("" if t.score is None else f" {t.score:.2f}") + (" LOST" if t.lost else "")
        cv2.putText(out, label, (x, max(10, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, color, 1, cv2.LINE_AA)
    if fps:
        cv2.putText(out, f"{fps:.1f} FPS", (5, int(18 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return out


def unreadable_frame(frame: Frame, size: tuple[int, int]) -> np.ndarray:
    """A gray BGR frame of `size` (w, h) saying that the source's frame could not be decoded (videos keep one frame
    per source frame)."""
    import cv2

    out = np.full((size[1], size[0], 3), 96, np.uint8)
    cv2.putText(out, f"frame {frame.index}: unreadable", (4, max(12, size[1] // 2)), cv2.FONT_HERSHEY_SIMPLEX,
                max(0.3, min(size) / 600.0), (255, 255, 255), 1, cv2.LINE_AA)
    return out


FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
MIN_VIDEO_SIDE = 32   # smaller frames are scaled up by a whole factor (OpenCV's MJPG writer corrupts memory at 5x4)


def check_video_path(path: str | Path) -> None:
    """--save's container is one the video writer supports (checked before any work; one-line error)."""
    suffix = Path(path).suffix
    if not suffix and (writes_in_place(path) or str(path) == "-"):   # /dev/null, stdout: no name to pick it by
        raise InputError(f"--save '{path}': the video's container is picked by the file's extension and a device or "
                         "stdout has none; drop --save to write no video, or pass a file such as out.mp4")
    if not suffix:
        raise InputError(f"--save '{path}': the name has no extension to pick the video's container by; pass "
                         f"'{path}.mp4' or '{path}.avi'")
    if suffix.lower() not in FOURCC:
        raise InputError(f"--save '{path}': unsupported container '{suffix}'; use .mp4 or .avi")


def letterbox(image: np.ndarray, w: int, h: int) -> np.ndarray:
    """`image` scaled to fit w x h (aspect kept) and centred on black: a video has one frame size."""
    import cv2

    ih, iw = image.shape[:2]
    s = min(w / iw, h / ih)
    nw, nh = max(1, min(w, round(iw * s))), max(1, min(h, round(ih * s)))
    out = np.zeros((h, w, 3), dtype=image.dtype)
    x, y = (w - nw) // 2, (h - nh) // 2
    out[y:y + nh, x:x + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


MAX_HELD_S = 60.0   # --save holds a frame at most this long to reach the next one's time (more: a broken time)


class VideoSink(Sink):
    """Annotated video (mp4v for .mp4; MJPG for .avi/.mkv); opened on the first frame, released at close.

    The video takes the first frame's size (scaled up by a whole factor below MIN_VIDEO_SIDE px); later frames of
    another size (an image folder of mixed sizes) are letterboxed into it and counted in `resized`. It is written to NAME.part.EXT (OpenCV picks the container
    by the suffix) and renamed onto NAME at close, like the box files: a killed run leaves an earlier video whole.
    """

    def __init__(self, path: str | Path, fps: float | None, timed: bool = False):
        """`timed`: the frames carry media times (a video file): a frame shown longer than one frame period (a
        variable frame rate, repeated frames stored once) is written again until the next one's time, so the video
        plays as long as the source; otherwise one video frame per frame."""
        check_video_path(path)
        self.path = Path(path)
        self.part = video_part_path(self.path)
        self.fps = fps if fps and fps > 0 else 30.0
        self.timed, self.start, self.written = timed, None, 0
        self.last: np.ndarray | None = None   # the last frame written (repeated to fill a gap in the times)
        self.writer = None
        self.size: tuple[int, int] = (0, 0)   # the frames' size; the video is `scale` times larger
        self.scale = 1
        self.resized = 0
        self.full = False   # the disk filled up: the unfinished video stays NAME.part.EXT
        self._size = -1     # NAME.part.EXT's size at the last check
        self._flat = 0      # checks since NAME.part.EXT last grew
        self._longest = 0   # the most checks it stayed flat before growing again (the writer's own buffering)

    def _open(self, w: int, h: int) -> None:
        import cv2

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = FOURCC[self.path.suffix.lower()]
        self.size = (w, h)
        self.scale = max(1, math.ceil(MIN_VIDEO_SIDE / min(w, h)))
        self.writer = cv2.VideoWriter(str(self.part), cv2.VideoWriter_fourcc(*fourcc), self.fps,
                                      (w * self.scale, h * self.scale))
        if not self.writer.isOpened():
            raise InputError(f"could not open a video writer for '{self.path}' (fourcc {fourcc}); "
                             "check the folder is writable or use .avi")

    def write(self, frame: Frame, targets: list[TargetState], fps: float | None = None) -> None:
        if self.writer is None:
            self._open(frame.image.shape[1], frame.image.shape[0])
        image = annotate(frame.image, targets, fps) if frame.image is not None else unreadable_frame(frame, self.size)
        if image.shape[1::-1] != self.size:
            image = letterbox(image, *self.size)
            self.resized += 1
        if self.scale > 1:
            image = np.repeat(np.repeat(image, self.scale, axis=0), self.scale, axis=1)   # nearest-neighbour
        if self.timed and math.isfinite(frame.timestamp):
            self.start = frame.timestamp if self.start is None else self.start
            due = round((frame.timestamp - self.start) * self.fps)   # this frame's place at the video's rate
            for _ in range(min(due - self.written, round(MAX_HELD_S * self.fps))):   # a broken time: not forever
                self.writer.write(self.last)
                self.written += 1
        self.writer.write(image)
        self.last, self.written = image, self.written + 1
        if self.part != self.path:
            self._check_room(always=False)

    def _check_room(self, always: bool) -> None:
        """OpenCV only logs a failed write: raise OutputFull (the video stays NAME.part.EXT) when the disk is full,
        the file at the size limit, or the quota used up. The quota is asked of the file system (a block allocated
        and freed: milliseconds of journal wait on ext4) at `always`, and when the file has stayed flat for more
        checks than it ever did before growing: the writer's own buffering keeps it flat for a few frames, a refused
        write for good (a write that got through needs no asking)."""
        try:
            size = os.stat(self.part).st_size
        except OSError:
            size = -1
        grew, self._size = size != self._size, size
        if grew:
            self._longest, self._flat = max(self._longest, self._flat), 0
        else:
            self._flat += 1
        code = errno.ENOSPC if no_room(self.part.parent) else errno.EFBIG if at_size_limit(self.part) else None
        if code is None and (always or self._flat > self._longest):
            code = refused_block(self.part.parent)
        if code is not None:
            self.full = True
            raise OutputFull(full_message(OSError(code, os.strerror(code)), self.part))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()   # writes the index: a cut one leaves a video that does not play
            self.writer = None
            if self.part != self.path and self.part.exists() and not self.full:
                self._check_room(always=True)
                os.replace(self.part, self.path)
