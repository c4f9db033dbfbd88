"""`Sequence`: one annotated tracking sequence (image files or a video), plus GT-file parsing shared by all readers."""

from __future__ import annotations

import difflib
import math
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from droptrack.data.frames import NumberedFrames, compact
from droptrack.decodelog import DamageLog
from droptrack.errors import DatasetError
from droptrack.imagefiles import Probes, read_bgr, sorted_images
from droptrack.videofiles import apply_rotation, fewer_frames_stored, no_frame_reason, unopened_reason


@dataclass(eq=False)
class Sequence:
    """A sequence: frames (files) or a video, (N,4) x,y,w,h float64 boxes (NaN allowed) and visibility flags.

    `visible` holds only the dataset's own flags (LaSOT: not full_occlusion and not out_of_view; GOT-10k: not
    absent and cover > 0) or None when the dataset has none; `valid()` adds the w, h > 0 rule of the metrics.
    GT rows that a split does not publish (GOT-10k / TrackingNet test) are NaN.
    """

    name: str
    dataset: str
    frames: list[Path] | NumberedFrames | None   # NumberedFrames: numbered files, paths made as they are read
    video: Path | None
    boxes: np.ndarray
    visible: np.ndarray | None = None
    cover: np.ndarray | None = None
    object_class: str | None = None
    resolution: tuple[int, int] | None = None   # (W, H) the dataset states (GOT-10k meta_info.ini), else read
    known_damage: dict[int, str] = field(default_factory=dict)   # frame index -> the fix of a known damaged file
    # images of the folder before frame 0 (OTB: Tiger1's first 5, left out as pytracking's initOmit; David's 299
    # before its ground truth starts): a result file with this many rows more than frames starts there (score_files)
    images_before: int = 0
    # the box file the ground truth was read from, where a result file could have its name (UAV123's and NfS's anno/
    # <seq>.txt, TrackingNet's anno/<seq>.txt, a video's CLIP.txt): score_files refuses to score it as a result
    annotation: Path | None = None
    _size: tuple[int, int] | None = field(default=None, init=False, repr=False)
    _probe_set: Probes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        """Normalise dtypes and check that every per-frame array has one entry per frame."""
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        n = len(self.boxes)
        if self.frames is None and self.video is None:
            raise DatasetError(f"sequence {self.name!r} has neither frames nor a video; give one of them")
        if self.frames is not None and len(self.frames) != n:
            raise DatasetError(f"sequence {self.name!r}: {len(self.frames)} frames but {n} boxes; "
                               "the annotation file and the image folder must have one row per frame")
        for attr, dtype in (("visible", bool), ("cover", np.int64)):
            arr = getattr(self, attr)
            if arr is not None:
                arr = np.asarray(arr, dtype=dtype).reshape(-1)
                if len(arr) != n:
                    raise DatasetError(f"sequence {self.name!r}: {len(arr)} {attr} flags for {n} frames; "
                                       "re-extract the sequence's label files")
                setattr(self, attr, arr)

    def __len__(self) -> int:
        """Number of frames."""
        return len(self.boxes)

    @property
    def image_size(self) -> tuple[int, int]:
        """(W, H) of the frames: the dataset's stated resolution, else read lazily from the first frame (or the video
        header)."""
        if self._size is None and self.resolution is not None:
            self._size = (int(self.resolution[0]), int(self.resolution[1]))
        if self._size is None:
            if self.frames is not None:
                h, w = self.frame(0).shape[:2]
            else:
                cap = _open_video(self.video)
                w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
                cap.release()
            self._size = (w, h)
        return self._size

    def valid(self) -> np.ndarray:
        """(N,) bool: finite GT with w > 0 and h > 0, and visible where the dataset has flags."""
        b = self.boxes
        ok = np.isfinite(b).all(axis=1) & (np.nan_to_num(b[:, 2]) > 0) & (np.nan_to_num(b[:, 3]) > 0)
        return ok & self.visible if self.visible is not None else ok

    def _probes(self) -> Probes:
        """The frames that decide whether this sequence's 16-bit frames hold 12-bit data (decoded once, if ever)."""
        if self._probe_set is None:
            self._probe_set = Probes(self.frames or [])
        return self._probe_set

    def frame(self, i: int, said: list[str] | None = None) -> np.ndarray:
        """Frame i as an HxWx3 RGB uint8 array (videos: seek, then decode one frame); `said` gets an image file's
        decoder lines (`read_rgb`)."""
        if not 0 <= i < len(self):
            raise IndexError(f"frame {i} out of range for {self.name!r} ({len(self)} frames)")
        if self.frames is not None:
            return read_rgb(self.frames[i], self._probes(), self.known_damage.get(i, ""), said)
        cap = _open_video(self.video)
        try:
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, bgr = cap.read()
        finally:
            cap.release()
        if not ok:
            raise DatasetError(f"cannot decode frame {i} of {self.video}; the video is shorter than its "
                               "annotation or corrupt: re-encode it or trim groundtruth.txt")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def iter_frames(self, damage: DamageLog | None = None) -> Iterator[np.ndarray]:
        """Yield every frame in order (videos are decoded sequentially, not seeked); image files that decode despite
        damage are counted in `damage` (their decoder's lines never reach stderr)."""
        if self.frames is not None:
            for i in range(len(self)):
                said: list[str] = []
                rgb = read_rgb(self.frames[i], self._probes(), self.known_damage.get(i, ""), said)
                if damage is not None:
                    damage.add(self.frames[i].name, said)
                yield rgb
            return
        cap, last_s = _open_video(self.video), math.nan
        try:
            for i in range(len(self)):
                ok, bgr = cap.read()
                if not ok and cap.read()[0]:   # frames follow: this one is damaged, the file is not short
                    raise DatasetError(f"frame {i} of {self.video} cannot be decoded (a damaged frame; later ones "
                                       "decode); dt run skips such frames, a benchmark needs every one: repair or "
                                       "re-record the video")
                if not ok:
                    raise DatasetError(f"{self.video} opened but {no_frame_reason(cap)}" if i == 0 else
                                       _short_video_message(self, i, cap.get(cv2.CAP_PROP_FPS), last_s))
                last_s = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0   # this frame's media time
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()


def _short_video_message(seq: Sequence, decoded: int, fps: float, last_s: float) -> str:
    """Why a video gave fewer frames than the sequence has: a too-long annotation, or (no GT) a wrong header count:
    fewer frames stored than its rate says (dt run's note, `fewer_frames_stored`), or a truncated or damaged file."""
    if has_gt(seq):
        return (f"{seq.video} ends after {decoded} frames but the annotation has {len(seq)}; re-encode the video or "
                f"trim {seq.annotation.name if seq.annotation is not None else 'groundtruth.txt'}")
    stored = fewer_frames_stored(str(seq.video), decoded, len(seq), fps, last_s)
    if stored is not None:   # nothing is missing: bench the frames it stores
        return f"{stored}; pass --frames {decoded} to use the frames it stores"
    return (f"{seq.video} decodes only {decoded} of the {len(seq)} frames its header announces (truncated or "
            f"damaged); pass --frames {decoded} or re-encode it: ffmpeg -i IN -c:v mpeg4 OUT.mp4")


def has_gt(seq: Sequence) -> bool:
    """Ground truth beyond the init frame (what dt eval needs to score a sequence; test splits have only frame 0)."""
    return len(seq) > 1 and bool(np.isfinite(seq.boxes[1:]).all(axis=1).any())


def read_rgb(path: Path, probes: Probes | None = None, damaged: str = "",
             said: list[str] | None = None) -> np.ndarray:
    """Decode an image file to RGB uint8; a missing or corrupt file raises DatasetError naming it (`probes`: the
    sequence's frames that decide whether 16-bit frames hold 12-bit data: `imagefiles.read_bgr`; `damaged`: what
    is known about this file being damaged in some copies of the dataset, and its fix, said when it does not decode;
    `said`: gets the decoder's complaints about a file that decodes despite damage)."""
    path = Path(path)
    if not path.is_file():
        raise missing_frame(path)
    try:
        bgr = read_bgr(path, probes, said)   # cv2.imread as `dt run` and the official toolkits read frames
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    if bgr is None and not os.access(path, os.R_OK):   # only a non-root user meets this
        raise DatasetError(f"frame {path} is not readable by this user (Permission denied); fix the dataset's "
                           "permissions, e.g. chmod -R a+rX ROOT")
    if bgr is None:
        raise DatasetError(f"frame {path} cannot be decoded: {damaged}" if damaged else
                           f"frame {path} cannot be decoded (corrupt or not an image); re-download it")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def missing_frame(path: Path) -> DatasetError:
    """The error, in one wording, for a sequence frame that is not on disk: read, found missing before tracking, or
    before training (droptrack.train.sampler.check_frames). A file of the same name in other case (00000001.JPG, as
    some copies and Windows tools write it) is named with the rename that fixes it: the official loaders open the
    lower-case name too, and re-downloading would not help; so is an archive extracted one folder too deep
    (train2017/train2017/), with the move."""
    path = Path(path)
    other = case_variant(path)
    if other is not None:
        old, new = other.suffix, path.suffix
        fix = (f"rename the frames: cd '{other.parent}' && for f in *{old}; do mv \"$f\" \"${{f%{old}}}{new}\"; done"
               if old != new and other.stem == path.stem else f"rename {other.name} to {path.name}")
        return DatasetError(f"frame {path} is missing, but {other.name} is there (its name in other case, which "
                            f"Linux and the benchmark's loaders tell apart); {fix}")
    other = type_variant(path)
    if other is not None:   # 00000003.png among .jpg frames, or every frame converted: 're-download' was no fix
        return DatasetError(f"frame {path} is missing, but {other.name} is there (the same frame in another image "
                            f"type); convert it to {path.suffix} under the name {path.name} (the frames are read by "
                            "that name), or re-extract the sequence")
    if not path.parent.is_dir():   # UAV123's data_seq/ or OTB's img/ not extracted (dt analyze needs none)
        return DatasetError(f"frame {path} is missing, and so is its folder {path.parent}; extract the dataset's "
                            "images under its root")
    sub = one_folder_down(path.parent, lambda d: (d / path.name).is_file())   # unzip train2017.zip -d train2017
    if sub is not None:
        nested = f"'{path.parent}.tmp'"
        return DatasetError(f"frame {path} is missing, but {sub / path.name} is there (extracted one folder too "
                            f"deep); move that folder up: mv '{path.parent}' {nested} && mv {nested}/'{sub.name}' "
                            f"'{path.parent}' && rmdir {nested}")
    return DatasetError(f"frame {path} is missing; re-download or re-extract this sequence")


def case_variant(path: Path) -> Path | None:
    """A file beside `path` whose name differs from path's in case only (00000001.JPG for 00000001.jpg), or None."""
    want = path.name.lower()
    try:
        with os.scandir(path.parent) as entries:
            return next((Path(e.path) for e in entries if e.name.lower() == want and e.name != path.name), None)
    except OSError:
        return None


def type_variant(path: Path) -> Path | None:
    """An image beside `path` of the same name but another image type (00000003.png for 00000003.jpg), or None."""
    from droptrack.imagefiles import IMAGE_EXTS

    try:
        with os.scandir(path.parent) as entries:
            return next((Path(e.path) for e in entries if Path(e.name).stem == path.stem
                         and Path(e.name).suffix.lower() in IMAGE_EXTS
                         and Path(e.name).suffix.lower() != path.suffix.lower()), None)
    except OSError:
        return None


def unopened_video(path: Path | None) -> DatasetError:
    """The error for a dataset video OpenCV cannot open: why, where its bytes say (`unopened_reason`), else advice."""
    return DatasetError(unopened_reason(path) or f"cannot open video {path}; check the path or re-encode it as "
                        "H.264 mp4")


def _open_video(path: Path | None) -> cv2.VideoCapture:
    """Open a video file or raise DatasetError naming it."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise unopened_video(path)
    apply_rotation(cap, f"video '{path}'")   # upright as displayed, as dt run reads it
    return cap


def numbered_frames(folder: Path, first: int, count: int, digits: int, ext: str) -> NumberedFrames:
    """Paths folder/<first..first+count-1 zero-padded to `digits`><ext>, without touching the disk (a rule, not a
    list: its memory does not grow with the sequence)."""
    return NumberedFrames(folder, first, count, digits, ext)


def first_missing_frame(frames: list[Path]) -> Path | None:
    """The first of `frames` that is not in its folder (each folder listed once: a LaSOT sequence's 11,000 frames are
    checked in milliseconds), or None; a benchmark sequence missing a frame is then refused before it is tracked. A
    folder this user may not list raises DatasetError (its frames are there: 'missing, re-download' was wrong)."""
    listed: dict[Path, set[str]] = {}
    for f in frames:
        parent = Path(f).parent
        if parent not in listed:
            try:
                listed[parent] = set(os.listdir(parent))
            except PermissionError:
                raise DatasetError(f"frame folder {parent} is not readable by this user (Permission denied); fix the "
                                   "dataset's permissions, e.g. chmod -R a+rX ROOT") from None
            except OSError:
                return Path(f)
        if Path(f).name not in listed[parent]:
            return Path(f)
    return None


def list_images(folder: Path, natural: bool = False, warn: bool = True) -> list[Path] | NumberedFrames:
    """Frames of a folder (hidden files and `imagefiles.stray_images` skipped, one warning naming those with `warn`),
    sorted by name as the official loaders sort them, or in natural order (`natural`: unpadded 1.jpg .. 10.jpg), kept
    as a NumberedFrames when they are numbered one by one; raises DatasetError if the folder is missing."""
    if not folder.is_dir():
        raise DatasetError(f"image folder {folder} is missing; re-download or re-extract the sequence")
    return compact(sorted_images(folder, natural, warn))


def pad_boxes(boxes: np.ndarray, n: int) -> np.ndarray:
    """Pad GT rows with NaN up to n frames (test splits publish only the first row)."""
    out = np.full((n, 4), np.nan)
    out[: min(n, len(boxes))] = boxes[:n]
    return out


def select(available: list[str], names: list[str] | None, dataset: str) -> list[str]:
    """Keep `names` (in the given order, each once: a name given twice is one sequence, not two of one name) or all;
    a name matches in either Unicode form (é as one code point or e + accent); an unknown name raises DatasetError
    with close matches."""
    if names is None:
        return list(available)
    known = set(available)
    spelled = {unicodedata.normalize("NFC", nm): nm for nm in available}   # a name copied from macOS is NFD
    names = [nm if nm in known else spelled.get(unicodedata.normalize("NFC", nm), nm) for nm in names]
    for nm in names:
        if nm not in known:
            close = difflib.get_close_matches(nm, available, n=3)
            some = ", ".join(available[:3]) + (", ..." if len(available) > 3 else "")
            hint = (f"did you mean {', '.join(close)}?" if close
                    else f"its {len(available)} sequences are named like {some}" if available
                    else "it holds no sequence")
            raise DatasetError(f"sequence {nm!r} is not in {dataset}; {hint}")
    return list(dict.fromkeys(names))


def one_folder_down(root: Path, holds: Callable[[Path], bool]) -> Path | None:
    """The sub-folder of root that holds a dataset root does not (an archive's own top folder: GOT-10k's full_data/,
    TNL2K_test_subset/, LaSOTBenchmark/), or None."""
    try:
        return next((d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith((".", "__MACOSX"))
                     and holds(d)), None)
    except OSError:
        return None


def no_sequences(what: str, root: Path, holds: Callable[[Path], bool], fix: str) -> DatasetError:
    """The error for a root holding none of a dataset's sequences (`what`: how one looks); when a sub-folder holds
    them, it names that folder as the root to give."""
    sub = one_folder_down(root, holds)
    where = f"they are one folder down: point the root at {sub}" if sub is not None else fix
    return DatasetError(f"no {what} under {root}; {where}")
