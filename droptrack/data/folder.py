"""Generic sources: an image folder or a video file, each with an optional x,y,w,h groundtruth.txt.

folder: root is one sequence (images directly in it, or in img/ or imgs/) or a folder of such sequences; the GT is
<seq>/groundtruth.txt (or groundtruth_rect.txt). video: root is a video file or a folder of videos; the GT of
`clip.mp4` is `clip.txt` next to it, else groundtruth.txt in the same folder when there is a single video.
Without a GT file, or with only the first frame's box in it (a test split), the boxes after it are NaN (one row per
image / per frame the video decodes, with a warning when its header counts more). Images are in natural
order (2.jpg before 10.jpg), so unpadded frame numbers (TrackingNet's 0.jpg, 1.jpg, ...) stay in frame order.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import cv2
import numpy as np

from droptrack.data.box_convention import corner_shaped, ground_truth_note
from droptrack.data.labels import load_boxes
from droptrack.data.sequence import Sequence, list_images, pad_boxes, select, unopened_video
from droptrack.errors import CornerBoxFileWarning, DatasetError, PartialDatasetWarning, shell_quote
from droptrack.imagefiles import frame_images, frames_problem, is_image_file, listed_images, numeric_key
from droptrack.textfiles import read_table
from droptrack.videofiles import (DAMAGED_RUN, VIDEO_EXTS, ShortVideoWarning, fewer_frames_stored, frames_before_start,
                                  no_frame_reason, plausible_frame_count, text_drawn_as_video)

_GT_NAMES = ("groundtruth.txt", "groundtruth_rect.txt")


def _image_dir(d: Path) -> Path | None:
    """The folder holding d's images (d, d/img or d/imgs), or None."""
    for cand in (d, d / "img", d / "imgs"):
        if cand.is_dir() and any(is_image_file(p) for p in cand.iterdir()):
            return cand
    return None


# the images droptrack writes into an output folder (dt analyze's, dt bench's and dt demo's plots): not frames
OWN_IMAGES = ("success.png", "precision.png", "norm_precision.png", "attributes.png", "attributes_radar.png",
              "latency.png")


def held_frames(d: Path) -> tuple[Path, int] | None:
    """The frames `dt run` and the dataset readers would read in folder d (its own images, or img/'s or imgs/'s, as
    `_image_dir` looks; droptrack's OWN_IMAGES, a dt demo's '*_strip.png' and images named unlike numbered frames
    beside them (a cover.jpg: `stray_images`) aside): (the first, how many) or None. One image alone (a cover, a
    photo) is no video's frames."""
    for cand in (d, d / "img", d / "imgs"):
        try:
            found = [p for p in listed_images(cand) if p.name not in OWN_IMAGES
                     and not p.name.endswith("_strip.png")] if cand.is_dir() else []
        except OSError:   # unreadable: the writer names it
            found = []
        found = frame_images(cand, found, warn=False) if len(found) > 1 else found
        if len(found) > 1:
            return min(found, key=lambda p: numeric_key(p.name)), len(found)
    return None


def frames_folder(d: Path) -> Path:
    """Where a sequence folder's frames are: d/img or d/imgs when d itself holds no image, else d."""
    return _image_dir(d) or d


def ground_truth_files(source: Path) -> list[Path]:
    """Where these readers look for a source's ground truth: `<stem>.txt` beside a video, `_GT_NAMES` in a
    sequence folder (first found wins)."""
    return [source.with_suffix(".txt")] if source.is_file() else [source / nm for nm in _GT_NAMES]


def own_boxes(path: Path) -> np.ndarray:
    """`load_boxes` of one's own footage, where a blank line between rows (a frame without a box, as some tools write
    it) is refused: the readers skip blank lines, as pytracking's, so every later box went to the frame before it."""
    lines = read_table(path, DatasetError, "fix the file").splitlines() if path.is_file() else []
    last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    gap = next((i for i, ln in enumerate(lines[:last]) if not ln.strip()), None)
    if gap is not None:
        raise DatasetError(f"{path}:{gap + 1}: blank line between box rows, so each later box would go to the frame "
                           "before its own; write one x,y,w,h row per frame, NaN,NaN,NaN,NaN (or 0,0,0,0) where the "
                           "frame has no box")
    return load_boxes(path)


def _gt(d: Path) -> tuple[np.ndarray | None, Path | None]:
    """Boxes from the first GT file present in d and that file, else (None, None)."""
    for f in ground_truth_files(d):
        if f.is_file():
            return own_boxes(f), f
    return None, None


def checked_boxes(seq: Sequence, gt_file: Path | None) -> Sequence:
    """seq, after one CornerBoxFileWarning when its ground truth reads as corners x1,y1,x2,y2 in its frame size
    (box_convention); a first frame that cannot be read leaves the check to the reading that names it."""
    if gt_file is not None and corner_shaped(seq.boxes):
        try:
            with warnings.catch_warnings():   # the file's own warnings (a rotation, ...): its reading gives them, once
                warnings.simplefilter("ignore")   # (dt eval reads in worker processes)
                w, h = seq.image_size
        except DatasetError:
            return seq
        note = ground_truth_note(gt_file, seq.boxes, w, h)
        if note:
            warnings.warn(note, CornerBoxFileWarning, stacklevel=3)
    return seq


def check_no_frame_without_row(folder: Path, rows: int, images: int) -> None:
    """One's own sequence with more `images` than box rows is refused (the synth and folder readers, as README says):
    rows are taken in frame order from the first, so a frame left without a row (a tool that writes rows only where
    the target is) shifted every later box, and the images past the last row were silently left out."""
    if images > rows:
        raise DatasetError(f"{folder} has {images} images but {rows} GT rows (one per frame, in frame order from the "
                           "first); add the missing rows (NaN,NaN,NaN,NaN or 0,0,0,0 where the frame has no box), or "
                           f"move the images past frame {rows} out of the folder")


def _image_sequence(d: Path) -> Sequence:
    """One image-folder sequence: one GT row per image (more images than rows is refused, as the synth reader does:
    the images past the last row were left out silently), or none or the first row only (a test split)."""
    images = frames_folder(d)   # d, or its img/ or imgs/: looked up once
    why = frames_problem(images)
    if why is not None:
        raise DatasetError(why)
    frames = list_images(images, natural=True)   # 1.jpg, 2.jpg, ..., 10.jpg in frame order
    gt, gt_file = _gt(d)
    if gt is None or len(gt) == 1:   # none, or the init box only (a test split): track every frame
        gt = pad_boxes(np.full((0, 4), np.nan) if gt is None else gt, len(frames))
    if len(gt) > len(frames):
        raise DatasetError(f"{d} has {len(gt)} GT rows but only {len(frames)} images; add the missing frames or "
                           "trim groundtruth.txt")
    check_no_frame_without_row(images, len(gt), len(frames))
    seq = Sequence(name=d.name, dataset="folder", frames=frames[: len(gt)], video=None, boxes=gt)
    return checked_boxes(seq, gt_file)


def holds_image_sequences(root: Path) -> bool:
    """Whether `read_folder` finds a sequence in root: images in it (or its img/, imgs/), or in a sub-folder."""
    return _image_dir(root) is not None or any(d.is_dir() and not d.name.startswith(".") and _image_dir(d) is not None
                                               for d in root.iterdir())


def clips_only(root: Path, fix: str) -> None:
    """A folder of clips (each with its CLIP.txt) and no frames, given where a folder of frames is read -> one-line
    DatasetError naming `fix`, how the calling command reads it as clips (dt export, which takes no --root, named
    dt eval's and dt bench's --root); a folder with frames, or without clips, passes."""
    videos = [] if holds_image_sequences(root) else sorted(p.name for p in root.iterdir() if is_video_file(p))
    if videos:
        shown = ", ".join(videos[:3]) + (", ..." if len(videos) > 3 else "")
        raise DatasetError(f"no images under {root}, but it holds video files ({shown}); read it as a folder of "
                           f"clips: {fix}")


def holds_videos(root: Path) -> bool:
    """Whether `read_video` finds a video file in the folder root."""
    return any(is_video_file(p) for p in root.iterdir())


def read_folder(root: Path, split: str | None, names: list[str] | None) -> list[Sequence]:
    """root as one sequence, or each sub-folder with images as a sequence."""
    if _image_dir(root) is not None:
        by_name = {root.name: root}
    else:
        by_name = {d.name: d for d in sorted(root.iterdir())
                   if d.is_dir() and not d.name.startswith(".") and _image_dir(d) is not None}   # not hidden ones
    if not by_name:
        where = shell_quote(root)
        clips_only(root, f"dt eval --dataset video --root {where}, dt bench --data video --root {where}")
        raise DatasetError(f"no images under {root}; give a folder of frames (jpg/png) or a folder of such folders")
    if _image_dir(root) is None and names is None:
        _left_out(root, [p.name for p in sorted(root.iterdir()) if is_video_file(p)], "video file", "folder", "video")
    return [_image_sequence(by_name[nm]) for nm in select(list(by_name), names, "folder")]


def _left_out(root: Path, others: list[str], what: str, kind: str, other_kind: str) -> None:
    """One PartialDatasetWarning when a --dataset `kind` root also holds sequences of the other kind (`others`),
    which its reader leaves out: a root of one's own clips and frame folders was scored on half of them silently."""
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        warnings.warn(f"{root} also holds {len(others)} {what}{'s' if len(others) > 1 else ''} ({shown}), which "
                      f"--dataset {kind} leaves out; --dataset {other_kind} --root {root} reads "
                      f"{'them' if len(others) > 1 else 'it'}", PartialDatasetWarning, stacklevel=3)


def _decoded_frames(cap: cv2.VideoCapture) -> tuple[int, float]:
    """Frames an opened video holds, up to its last one that decodes (damaged ones between count: iter_frames then
    names them), and that last frame's media time in seconds (NaN when none decodes)."""
    n, failed, last_s = 0, 0, math.nan
    while failed < DAMAGED_RUN:
        if cap.grab():
            n, failed, last_s = n + failed + 1, 0, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        else:
            failed += 1
    return n, last_s


def _video_sequence(path: Path, single: bool) -> Sequence:
    """One video; GT from <stem>.txt (or groundtruth.txt for a lone video); without one, or with the init box
    only, NaN rows up to the frames `_frame_count` decodes (a row per frame the file stores, as dt run tracks them)."""
    gt_file = ground_truth_files(path)[0]
    if not gt_file.is_file() and single and (path.parent / "groundtruth.txt").is_file():
        gt_file = path.parent / "groundtruth.txt"
    found = gt_file if gt_file.is_file() else None   # stat'ed once
    if found is None:
        boxes = np.full((_frame_count(path), 4), np.nan)
    else:   # the init box only (a test split)
        boxes = own_boxes(found)
        if len(boxes) == 1:
            boxes = pad_boxes(boxes, _frame_count(path))
        else:
            _check_rows(path, found, len(boxes))
    return checked_boxes(Sequence(name=path.stem, dataset="video", frames=None, video=path, boxes=boxes,
                                  annotation=found), found)


def _check_rows(path: Path, gt_file: Path, rows: int) -> None:
    """A video whose frames are not one per box row is refused before any work, either way, as the image-folder
    reader refuses it: frames past the last row were silently left out (8 of 12 frames scored, no word), and a
    file ending before its rows failed only after its frames were tracked. The header's count, where it equals the
    rows, is taken as it is (a cheap look); any other is checked by decoding the file."""
    cap = _open_clip(path)
    header = plausible_frame_count(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    if header == rows:
        return
    frames = _frame_count(path)
    if frames > rows:
        raise DatasetError(f"{path} has {frames} frames but {gt_file} has {rows} box rows (one per frame, in frame "
                           f"order from the first); add the {frames - rows} missing rows (NaN,NaN,NaN,NaN or 0,0,0,0 "
                           f"where the frame has no box), or cut the video to its first {rows} frames")
    if frames < rows:
        raise DatasetError(f"{path} has {frames} frames but {gt_file} has {rows} box rows (one per frame); trim "
                           f"{gt_file.name} to its first {frames} rows, or re-encode the video if frames are missing")


def _open_clip(path: Path) -> cv2.VideoCapture:
    """A video sequence's file, opened; a DatasetError for one OpenCV cannot open or a text file FFmpeg draws as
    frames (clip.txt as the root, its own boxes: its rows were said to outnumber its frames, trim it)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise unopened_video(path)
    text = text_drawn_as_video(cap, path)
    if text is not None:
        cap.release()
        raise DatasetError(f"{text}; pass the video file (its x,y,w,h boxes in the .txt of its name beside it) or "
                           "a folder of videos")
    return cap


def _frame_count(path: Path) -> int:
    """Frames a video decodes, not its header's count (a cut-off file, or a header that counts more than the file
    stores, was tracked and then failed at its end); one ShortVideoWarning when the header counts more."""
    cap = _open_clip(path)
    try:
        header = plausible_frame_count(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = cap.get(cv2.CAP_PROP_FPS)
        n, last_s = _decoded_frames(cap)
        if n == 0:   # as reading its frames would say
            raise DatasetError(f"{path} opened but {no_frame_reason(cap)}")
    finally:
        cap.release()
    if header is not None and n < header:
        header -= frames_before_start(path, fps, header)   # an MKV's count from time 0 where it starts later
    if header is not None and n < header:
        stored = fewer_frames_stored(str(path), n, header, fps, last_s)
        warnings.warn((stored or f"{path} decodes only {n} of the {header} frames its header announces (truncated or "
                       f"damaged)") + f"; those {n} frames are used", ShortVideoWarning, stacklevel=2)
    return n


def is_video_file(path: Path) -> bool:
    """A video suffix, not hidden (macOS '._clip.mp4' resource forks) and not a folder."""
    return path.suffix.lower() in VIDEO_EXTS and not path.name.startswith(".") and path.is_file()


def read_video(root: Path, split: str | None, names: list[str] | None) -> list[Sequence]:
    """root as one video file, or every video file in the root folder."""
    if root.is_file():
        return [_video_sequence(root, True)]
    vids = sorted(p for p in root.iterdir() if is_video_file(p))
    if not vids:
        raise DatasetError(f"no video file ({', '.join(VIDEO_EXTS)}) in {root}; pass a video path or its folder")
    by_name: dict[str, list[Path]] = {}
    for p in vids:   # results (<stem>.txt) and ground truth (<stem>.txt) are named by the stem
        by_name.setdefault(p.stem, []).append(p)
    if names is None:
        _left_out(root, [d.name for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")
                         and _image_dir(d) is not None], "frame folder", "video", "folder")
    chosen = select(list(by_name), names, "video")
    for nm in chosen:
        if len(by_name[nm]) > 1:
            raise DatasetError(f"videos {' and '.join(p.name for p in by_name[nm])} in {root} share the name '{nm}' "
                               f"(its ground truth and results are {nm}.txt); rename one or move it out")
    return [_video_sequence(by_name[nm][0], len(vids) == 1) for nm in chosen]
