"""Which files are videos, and what OpenCV says about one, checked before it is believed: the header's frame count,
and the display rotation (a phone's portrait video) applied explicitly, or a warning where the backend cannot; the
note for non-square pixels, which OpenCV reads as stored and players stretch."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path
from typing import Any

from droptrack.decodelog import DamagedImageWarning
from droptrack.errors import FrameGapWarning, FrameSizeWarning, printable, StrayImagesWarning

# containers that dataset folders and --data take as videos (dt run opens any file OpenCV's FFmpeg reads): phones,
# camcorders (AVCHD .mts/.m2ts), IP cameras and recorders (.ts), older cameras and screen captures (.3gp, .wmv, .flv)
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".mts", ".m2ts", ".ts", ".3gp",
              ".wmv", ".asf", ".flv", ".vob", ".ogv", ".y4m")
MAX_FRAME_COUNT = 1e9   # more frames than a year of 30 FPS video: a broken header, not a count
DAMAGED_RUN = 50        # failed reads in a row that end a video file (fewer, then a good frame: damaged frames)
# top-level boxes an MP4/MOV file may start with (ISO/IEC 14496-12, QuickTime): how a cut-off one is recognised
MP4_FIRST_BOXES = {b"ftyp", b"wide", b"free", b"skip", b"mdat", b"moov", b"pnot", b"uuid", b"styp"}
MAX_BOXES = 10_000      # top-level boxes walked before giving up (a real file has a handful)
# no frame count in the header: OpenCV's is duration x rate, off by one or so, the duration from time 0 (not from a
# later first frame: `frames_before_start`)
ESTIMATED_COUNT = (".mkv", ".webm")


class RotationWarning(UserWarning):
    """A video's display rotation that the OpenCV backend reading it does not apply (its frames come sideways)."""


class ShortVideoWarning(UserWarning):
    """A video file that decodes fewer frames than its header counts (cut off, damaged, or stored sparser than its
    rate): the frames that decode are the ones used, as dt run tracks them."""


class PixelAspectWarning(UserWarning):
    """A video whose pixels are not square (sample aspect ratio not 1:1): OpenCV reads it as stored, players stretch
    it, so boxes read off a player and --save's square-pixel output differ from what players show."""


def one_line_warning(show: Any, message: Any, category: type, *rest: Any) -> None:
    """A droptrack warning (rotation, pixel aspect, damaged images, a video short of its header's count, images left
    out of a folder's frames, gaps in its numbers, a frame of another size than the init frame's) as one
    'warning: ...' line on stderr, as dt prints them (the CLI, and dt eval's worker processes); others as `show` (the
    `warnings.showwarning` it replaces) shows them."""
    if issubclass(category, (RotationWarning, PixelAspectWarning, DamagedImageWarning, ShortVideoWarning,
                             StrayImagesWarning, FrameSizeWarning, FrameGapWarning)):
        sys.stderr.write(f"warning: {printable(message)}\n")   # one write: workers' lines do not interleave
        sys.stderr.flush()
    else:
        show(message, category, *rest)


def plausible_frame_count(n: float | None) -> int | None:
    """A header's frame count, or None when it is no count (NaN, inf, 0 or negative, over MAX_FRAME_COUNT)."""
    if n is None or not math.isfinite(n) or n < 1 or n > MAX_FRAME_COUNT:
        return None
    return int(n)


def apply_rotation(cap: Any, name: str) -> bool:
    """Ask OpenCV to turn the frames of an opened video upright by its display matrix (CAP_PROP_ORIENTATION_AUTO,
    off by default in some builds and backends); returns whether it does. Where it cannot (GStreamer, older OpenCV)
    and the file is rotated (CAP_PROP_ORIENTATION_META), one RotationWarning says so: the frames, --init and the
    boxes are then in the stored, sideways picture."""
    import cv2

    auto = getattr(cv2, "CAP_PROP_ORIENTATION_AUTO", None)
    applied = auto is not None and bool(cap.set(auto, 1)) and cap.get(auto) != 0
    meta = getattr(cv2, "CAP_PROP_ORIENTATION_META", None)
    degrees = cap.get(meta) if meta is not None else 0.0
    if not applied and math.isfinite(degrees) and round(degrees) % 360 != 0:
        backend = cap.getBackendName() if hasattr(cap, "getBackendName") else "this"
        warnings.warn(f"{name} is stored rotated by {round(degrees) % 360} degrees (its display matrix) and OpenCV's "
                      f"{backend} backend does not turn it upright: frames, --init and the boxes are in the stored "
                      "picture; rotate the file with `ffmpeg -i IN -c:v libx264 OUT.mp4` (ffmpeg applies the "
                      "rotation)", RotationWarning, stacklevel=2)
    return applied


def stream_start_s(path: str | Path) -> float:
    """Seconds from time 0 to a video file's first frame (a stream cut from a longer recording, `ffmpeg
    -output_ts_offset`), from its first two frames' PTS (in units OpenCV chooses) and media times; 0.0 where unknown."""
    import cv2

    cap, marks = cv2.VideoCapture(str(path)), []
    try:
        while len(marks) < 2 and cap.read()[0]:
            marks.append((cap.get(cv2.CAP_PROP_PTS), cap.get(cv2.CAP_PROP_POS_MSEC) / 1000))
    finally:
        cap.release()
    if len(marks) < 2 or not all(math.isfinite(v) for mark in marks for v in mark):
        return 0.0
    (pts0, s0), (pts1, s1) = marks
    if not (pts1 > pts0 and s1 > s0):
        return 0.0
    return max(0.0, pts0 * (s1 - s0) / (pts1 - pts0) - s0)


def frames_before_start(path: str | Path, fps: float | None, header: int) -> int:
    """How many of a Matroska/WebM file's `header` count (OpenCV's duration x rate, the duration from time 0) fall
    before its first frame (a nonzero start offset): none are stored, so that many fewer is no sign of a cut; 0 for
    other containers (their header counts the frames) and where the offset is unknown."""
    if Path(str(path)).suffix.lower() not in ESTIMATED_COUNT or not (fps and math.isfinite(fps) and fps > 0) \
            or not Path(path).is_file():
        return 0
    lead = round(stream_start_s(path) * fps)
    return lead if 0 < lead < header else 0


def frames_lost(fps: float | None, before: float | None, now: float, failed: int, step: float | None = None) -> int:
    """Frames of a video file lost before a good one at `now` s that came after `failed` failed reads: those, or more
    where the decoder also dropped, without a failed read, the frames that depend on a damaged keyframe (the time
    since the good frame at `before` s, or since the start, in frames `step` s apart, else at the file's `fps`; never
    fewer than `failed`). `step` is the usual time between the frames read so far: a file that stores fewer frames
    than its header's rate (a variable frame rate) spaces them wider than 1 / fps, and counting its gap at that rate
    made up frames and moved every later index."""
    if step is not None and math.isfinite(step) and step > 0 and before is not None:
        fps = 1.0 / step
    if fps is None or not math.isfinite(now) or (before is not None and not now > before):
        return failed
    return max(failed, round((now - (before if before is not None else -1.0 / fps)) * fps) - 1)


def fewer_frames_stored(what: str, frames: int, expected: int, fps: float | None, last_s: float,
                        first_s: float = 0.0) -> str | None:
    """Why a video file gave fewer frames than its header counts when its frames' times run on toward where the count
    would end (`first_s`, `last_s`: the first and last frame's media times): it stores fewer frames than its rate
    says (variable frame rate, repeated frames stored once), it is not cut short; None when the times stop early too
    (truncated or damaged: the last time lies nearer where the frames would end than where the count would, a few
    frames lost at the cut included). Shared by dt run's note and the dataset reader's error, so both explain the
    same file alike."""
    span = last_s - first_s
    if not fps or not math.isfinite(fps) or fps <= 0 or not math.isfinite(span):
        return None
    if span * fps <= (frames + expected) / 2 - 1:   # the times stop nearer where the frames would end
        return None
    return (f"{what} gave {frames} frames, not the {expected} its header counts, but they span {span:.1f} s, as "
            f"{round(span * fps) + 1} frames at {fps:.4g} FPS would: the file stores fewer frames than its rate "
            "(a variable frame rate, or repeated frames stored once)")


def no_frame_reason(cap: Any) -> str:
    """Why an opened video file gave no frame at all, with its codec's FourCC where the container names one
    (AV1 and other codecs that OpenCV's bundled FFmpeg has no decoder for open fine and then decode nothing)."""
    import cv2

    code = int(cap.get(cv2.CAP_PROP_FOURCC)) if math.isfinite(cap.get(cv2.CAP_PROP_FOURCC)) else 0
    tag = code.to_bytes(4, "little", signed=False).decode("latin-1") if 0 < code < 1 << 32 else ""
    codec = f"its codec ({tag.strip()})" if tag.strip().isprintable() and tag.strip() else "its codec"
    return (f"no frame of it decodes: this OpenCV build has no decoder for {codec}, or the file holds no whole "
            "frame (cut short, or cut before its first keyframe); convert it with `ffmpeg -i IN -c:v mpeg4 -q:v 2 "
            "OUT.mp4` (ffmpeg says which)")


def text_drawn_as_video(cap: Any, path: str | Path) -> str | None:
    """Why an opened 'video' is no footage: FFmpeg's tty demuxer opens a text file (.txt, .nfo, ...) of a few hundred
    bytes or more, a groundtruth.txt of 40 rows, and draws its characters as frames (FourCC 'ansi'); else None."""
    import cv2

    code = cap.get(cv2.CAP_PROP_FOURCC)
    if not (math.isfinite(code) and int(code) == int.from_bytes(b"ansi", "little")):
        return None
    return f"'{path}' is a text file, not a video (FFmpeg would draw its characters as frames)"


def sample_aspect(cap: Any) -> tuple[int, int] | None:
    """An opened video's sample aspect ratio (displayed width : stored width of a pixel) as reduced (num, den), or
    None when it is square or unknown (OpenCV's FFMPEG backend says 0/1 then; other backends have no property)."""
    import cv2

    props = getattr(cv2, "CAP_PROP_SAR_NUM", None), getattr(cv2, "CAP_PROP_SAR_DEN", None)
    if None in props:
        return None
    num, den = (cap.get(prop) for prop in props)
    if not (math.isfinite(num) and math.isfinite(den) and num >= 1 and den >= 1):
        return None
    num, den = round(num), round(den)
    g = math.gcd(num, den)
    return None if num == den else (num // g, den // g)


def pixel_aspect_note(cap: Any, name: str) -> str | None:
    """For an opened video with non-square pixels, the PixelAspectWarning that dt run and dt serve give once tracking
    starts (else None): frames, --init and boxes stay in the decoded pixels; it names the displayed size, the factor
    a box measured on a player's picture needs, and that --save cannot keep the ratio (cv2.VideoWriter has no
    property for it). Dataset readers give none: annotation tools label the decoded pixels too."""
    import cv2

    sar = sample_aspect(cap)
    if sar is None:
        return None
    num, den = sar
    w, h = round(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), round(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    auto, meta = getattr(cv2, "CAP_PROP_ORIENTATION_AUTO", None), getattr(cv2, "CAP_PROP_ORIENTATION_META", None)
    degrees = cap.get(meta) if meta is not None else 0.0
    turned = (auto is not None and cap.get(auto) != 0 and math.isfinite(degrees)   # upright: stored x is now y
              and round(degrees) % 180 == 90)
    shown, axis = ((w, round(h * num / den)), "y and height") if turned else ((round(w * num / den), h), "x and width")
    kind = "upright" if turned else "stored"
    return (f"{name} has non-square pixels (sample aspect ratio {num}:{den}): frames, --init and the boxes are in its "
            f"{kind} {w}x{h} pixels, while players show it {shown[0]}x{shown[1]}; multiply the {axis} of a box "
            f"measured on the displayed picture by {den}/{num} (or draw it in dt run's window), and --save plays at "
            f"{w}x{h} (OpenCV's VideoWriter cannot store the ratio); a square-pixel copy: `ffmpeg -i IN -vf "
            "'scale=trunc(iw*sar/2)*2:ih,setsar=1' OUT.mp4`")


def _top_level_boxes(path: Path) -> list[bytes] | None:
    """The types of an MP4/MOV file's top-level boxes, up to the end of the file or the first box the file ends
    inside; None when the file does not start like one."""
    with open(path, "rb") as f:
        boxes = _children(f, 0, path.stat().st_size, ends_inside=True)
    if not boxes or boxes[0][0] not in MP4_FIRST_BOXES:
        return None
    return [kind for kind, _, _ in boxes]


def unopened_reason(path: str | Path | None) -> str | None:
    """Why a video file that OpenCV could not open is unreadable to any tool, where its bytes say so (else None): an
    MP4/MOV file without its index, the 'moov' box that cameras, phones and OpenCV write when a recording ends (the
    usual cut-off file), an empty file, or one of another kind (`.mp3`, `.txt`); the generic advice to convert it
    would fail too."""
    if path is None or not Path(path).is_file():   # a pipe would block the read
        return None
    suffix = Path(path).suffix
    if Path(path).stat().st_size == 0:
        return (f"cannot open video '{path}': it is empty (0 bytes), a copy, download or recording that wrote "
                "nothing; copy it again from its source")
    if suffix and suffix.lower() not in VIDEO_EXTS:   # an audio track, a box file, a model passed as the source
        return (f"'{path}' is not a video OpenCV can read, and '{suffix}' is no video extension (an audio, text or "
                "other file?); pass a video file (.mp4, .avi, ...), a folder of frames, a camera or a stream")
    try:
        boxes = _top_level_boxes(Path(path))
    except OSError:
        return None
    if boxes is not None and b"moov" in boxes:
        kinds = track_kinds(Path(path))
        if kinds and b"vide" not in kinds:   # re-encoding it (the generic advice) would keep it without a picture
            what = "audio" if set(kinds) == {b"soun"} else \
                "tracks of kind " + ", ".join(sorted({printable(k.decode("latin-1")) for k in kinds}))
            return (f"video '{path}' has no video stream, only {what}: there is no picture to track; pass the file "
                    "that holds the footage (`ffprobe FILE` lists a file's streams)")
    if boxes is None or b"moov" in boxes or b"moof" in boxes:
        return None
    return (f"video '{path}' is an MP4/MOV file whose index (the 'moov' box) is missing or damaged: a recording "
            "stopped before it was finished, or a copy or download that was cut off; no player or converter reads it "
            "as it is: copy it again from its source, or rebuild the index with a repair tool (e.g. untrunc, given a "
            "good file from the same camera)")


def _children(f: Any, start: int, end: int, ends_inside: bool = False) -> list[tuple[bytes, int, int]]:
    """The boxes inside an MP4/MOV box's body (or the file) from `start` to `end` of open file `f`: (type, body
    start, body end) each, up to the first one that does not fit (a damaged file: the boxes read so far); with
    `ends_inside`, that one too (a file cut off inside its last box), unless shorter than a box's header."""
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end and len(found) < MAX_BOXES:
        f.seek(offset)
        head = f.read(16)
        length, kind, body = int.from_bytes(head[:4], "big"), head[4:8], offset + 8
        if length == 1 and len(head) == 16:   # a 64-bit size follows the type
            length, body = int.from_bytes(head[8:16], "big"), offset + 16
        elif length == 0:   # the box runs to the end of its parent
            length = end - offset
        if not (ends_inside or (length >= body - offset and offset + length <= end)):
            break
        found.append((kind, body, offset + length))
        if length < 8:   # no box is shorter than its header: not (or no longer) a box structure
            break
        offset += length
    return found


def track_kinds(path: Path) -> list[bytes]:
    """The handler type of each track of an MP4/MOV file's 'moov' box (b'vide' video, b'soun' audio, b'text',
    ...), in order; [] when it has none or cannot be read that way (what OpenCV could not open may hold no video)."""
    try:
        with open(path, "rb") as f:
            kinds = []
            for moov in (b for b in _children(f, 0, path.stat().st_size) if b[0] == b"moov"):
                for trak in (b for b in _children(f, moov[1], moov[2]) if b[0] == b"trak"):
                    for mdia in (b for b in _children(f, trak[1], trak[2]) if b[0] == b"mdia"):
                        for hdlr in (b for b in _children(f, mdia[1], mdia[2]) if b[0] == b"hdlr"):
                            f.seek(hdlr[1] + 8)   # version and flags, then pre_defined, then the handler type
                            kinds.append(f.read(4))
            return kinds
    except OSError:
        return []
