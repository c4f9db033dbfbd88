"""--save: the annotated video sink (`VideoSink`), the boxes drawn on a frame (`annotate`, also the --show window's)
and the checks of its path before any work."""

from __future__ import annotations

import errno
import math
import os
from pathlib import Path

import numpy as np

from droptrack.decodelog import quiet_opencv
from droptrack.errors import at_size_limit, full_message, InputError, no_room, OutputFull, refused_block
from droptrack.paths import writes_in_place
from droptrack.runtime.sink_base import Sink, TargetState, video_part_path
from droptrack.runtime.source_base import Frame


COLORS = [(0, 255, 0), (255, 128, 0), (0, 160, 255), (255, 0, 255), (255, 255, 0), (0, 255, 255)]
LOST_COLOR = (255, 0, 0)


def video_rate(fps: float | None) -> float:
    """The frame rate a --save video is written at: the source's, or 30 where it names none."""
    return fps if fps and fps > 0 else 30.0


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


FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}   # dt run --help names them
MIN_VIDEO_SIDE = 32   # smaller frames are scaled up by a whole factor (OpenCV's MJPG writer corrupts memory at 5x4)


def check_video_path(path: str | Path) -> None:
    """--save's container is one the video writer supports (checked before any work; one-line error)."""
    suffix = Path(path).suffix
    if not suffix and (writes_in_place(path) or str(path) == "-"):   # /dev/null, stdout: no name to pick it by
        raise InputError(f"--save '{path}': the video's container is picked by the file's extension and a device or "
                         "stdout has none; drop --save to write no video, or pass a file such as out.mp4")
    if not suffix:   # 'out.' has none either: its dot is not doubled in the names offered
        base = str(path)[:-1] if str(path).endswith(".") else str(path)
        raise InputError(f"--save '{path}': the name has no extension to pick the video's container by; pass "
                         f"'{base}.mp4' or '{base}.avi'")
    if suffix.lower() not in FOURCC:
        raise InputError(f"--save '{path}': unsupported container '{suffix}'; use "
                         f"{', '.join(list(FOURCC)[:-1])} or {list(FOURCC)[-1]}")


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
        variable frame rate, repeated frames stored once) is written again until the next one's time, and one due
        more than a video frame before the next free place (a passage faster than the video's rate) is left out, so
        the video plays as long as the source; otherwise one video frame per frame."""
        check_video_path(path)
        self.path = Path(path)
        self.part = video_part_path(self.path)
        self.fps = video_rate(fps)
        self.timed, self.start, self.written = timed, None, 0
        self.last: np.ndarray | None = None   # the last frame written (repeated to fill a gap in the times)
        self.writer = None
        self.size: tuple[int, int] = (0, 0)   # the frames' size; the video is `scale` times larger
        self.scale = 1
        self.pad = (0, 0)   # a black column / row that makes an odd side even
        self.resized = 0
        self.left_out = 0   # `timed` frames more than one video frame early (a faster passage): not written
        self.full = False   # the disk filled up: the unfinished video stays NAME.part.EXT
        self.finished = False   # `sync` wrote the index with room to spare: close renames it onto NAME
        self._size = -1     # NAME.part.EXT's size at the last check
        self._flat = 0      # checks since NAME.part.EXT last grew
        self._longest = 0   # the most checks it stayed flat before growing again (the writer's own buffering)

    def _open(self, w: int, h: int) -> None:
        import cv2

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = FOURCC[self.path.suffix.lower()]
        self.size = (w, h)
        self.scale = max(1, math.ceil(MIN_VIDEO_SIDE / min(w, h)))
        # an odd side gets one black column / row: OpenCV's writer rounds it down and rescales every frame (a 719x527
        # source was saved as 718x526), so no source pixel is lost or moved
        self.pad = ((w * self.scale) % 2, (h * self.scale) % 2)
        writer = cv2.VideoWriter(str(self.part), cv2.VideoWriter_fourcc(*fourcc), self.fps,
                                 (w * self.scale + self.pad[0], h * self.scale + self.pad[1]))
        if writer.isOpened():   # kept only then: closing a writer that never opened moved NAME.part (even a
            self.writer = writer   # folder of that name) onto NAME as a finished video
        else:
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
        if any(self.pad):
            import cv2

            image = cv2.copyMakeBorder(image, 0, self.pad[1], 0, self.pad[0], cv2.BORDER_CONSTANT, value=0)
        with quiet_opencv():   # a refused write is only logged ('[ WARN] ... Failed to write frame'): _check_room
            if self.timed and math.isfinite(frame.timestamp):   # says it, in the one line
                self.start = frame.timestamp if self.start is None else self.start
                due = round((frame.timestamp - self.start) * self.fps)   # this frame's place at the video's rate
                if due < self.written - 1:   # a passage faster than the video's rate: writing it would leave the
                    self.last, self.left_out = image, self.left_out + 1   # video behind its source (a fast end
                    return   # played seconds longer); it is the frame held if a gap follows
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

    def sync(self) -> None:
        """Write the index (release the writer) and check it found room (`Sink.sync`)."""
        if self.writer is not None:
            with quiet_opencv():
                self.writer.release()   # writes the index: a cut one leaves a video that does not play
            self.writer = None
            if self.part != self.path and self.part.exists() and not self.full:
                self._check_room(always=True)
                self.finished = True

    def close(self) -> None:
        self.sync()
        if self.finished:
            self.finished = False
            if not self.full:
                os.replace(self.part, self.path)

    def keep_unfinished(self) -> None:
        self.full = True

    def unfinished(self) -> list[tuple[Path, Path]]:
        """[(NAME.part.EXT, NAME)] where the run stopped on a full disk and left the video there, else []."""
        return [(self.part, self.path)] if self.full and self.part != self.path and self.part.exists() else []
