"""NfS (30 fps) and TNL2K readers.

NfS, pytracking layout (spec table): root/sequences/<name>/%05d.jpg from 1, one per row of root/anno/nfs_<name>.txt
(tab separated x,y,w,h). NfS, official layout: root/<name>/30/<name>/*.jpg (00001.jpg ... counted with a few file
checks; other names: listed) and root/<name>/30/<name>.txt with rows
`id xmin ymin xmax ymax frame lost occluded generated label`; rows are annotated at 240 fps, so when there are about
8x more rows than images every 8th row is kept, and a one-frame length mismatch is trimmed. Sequence names are
`nfs_<name>` in both layouts. TNL2K: root/<seq>/{imgs/* (sorted listing), groundtruth.txt}; frames numbered from 0 or 1
(00000001.png, 00001.jpg, ...) are that listing's first rows found with a few file checks, not a listing.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from droptrack.data.frames import NumberedFrames, count_numbered, numbered_gap, probe_numbered
from droptrack.data.labels import REDOWNLOAD, load_boxes
from droptrack.data.sequence import Sequence, list_images, missing_frame, no_sequences, numbered_frames, select
from droptrack.errors import DatasetError, ExtraImagesWarning
from droptrack.textfiles import read_table, row_problem


HOLE = 9   # frames looked for past NfS's counted ones: a hole of up to 8 missing images is named


def _nfs_official_boxes(path: Path) -> np.ndarray:
    """(N,4) x,y,w,h from an official NfS annotation file (xmin ymin xmax ymax in columns 1..4)."""
    if not path.is_file():
        raise DatasetError(f"NfS annotation {path} is missing; re-extract the sequence's 30/ folder")
    rows = []
    for no, ln in enumerate(read_table(path, DatasetError, REDOWNLOAD).splitlines(), 1):
        if row_problem(ln):   # before it is split: a line of millions of fields takes gigabytes
            raise DatasetError(f"{path}:{no}: {row_problem(ln)}; {REDOWNLOAD}")
        parts = ln.split()
        if not parts:
            continue
        try:
            x1, y1, x2, y2 = (float(v) for v in parts[1:5])
        except ValueError:
            raise DatasetError(f"{path}:{no}: expected 'id xmin ymin xmax ymax ...', got {ln[:60]!r}; "
                               "re-download the annotation") from None
        rows.append([x1, y1, x2 - x1, y2 - y1])
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def _nfs_official(root: Path, names: list[str] | None) -> list[Sequence]:
    """NfS in the official per-sequence 30/ layout."""
    avail = sorted(f"nfs_{d.name}" for d in root.iterdir() if (d / "30").is_dir())
    if not avail:
        raise no_sequences("NfS sequence (<name>/30/<name>.txt with its frames, or anno/nfs_<name>.txt)", root,
                           lambda d: (d / "anno").is_dir() or any((c / "30").is_dir() for c in d.iterdir()),
                           "point the root at the folder that holds the sequence folders (or anno/ and sequences/)")
    seqs = []
    for nm in select(avail, names, "nfs"):
        base = nm[4:]
        folder = root / base / "30" / base
        count = count_numbered(folder, 1, 5, ".jpg")   # 00001.jpg, ...: file checks; other names: the listing
        rule = NumberedFrames(folder, 1, 0, 5, ".jpg")
        if count and any((folder / rule.name(count + k)).is_file() for k in range(1, HOLE)):   # frames past a hole:
            raise missing_frame(folder / rule.name(count))   # the count, and the 240 fps rule, were the hole's
        frames = numbered_frames(folder, 1, count, 5, ".jpg") if count else list_images(folder)
        gt = _nfs_official_boxes(root / base / "30" / f"{base}.txt")
        if frames and abs(len(gt) / len(frames) - 8) < 1:
            gt = gt[::8]
        n = min(len(gt), len(frames))
        if n == 0 or abs(len(gt) - len(frames)) > 1:
            raise DatasetError(f"{root / base / '30' / f'{base}.txt'}: {len(gt)} boxes for {len(frames)} images; "
                               "re-extract the sequence")
        seqs.append(Sequence(name=nm, dataset="nfs", frames=frames[:n], video=None, boxes=gt[:n]))
    return seqs


def read_nfs(root: Path, split: str | None, names: list[str] | None) -> list[Sequence]:
    """NfS 30 fps sequences (pytracking layout when root/anno exists, else the official layout)."""
    anno = root / "anno"
    if not anno.is_dir():
        return _nfs_official(root, names)
    avail = sorted(f.stem for f in anno.glob("nfs_*.txt"))
    if not avail:
        raise DatasetError(f"{anno} holds no nfs_<name>.txt annotation; re-extract the annotations (or remove anno/ "
                           "to read the official <name>/30/ layout)")
    seqs = []
    for nm in select(avail, names, "nfs"):
        gt = load_boxes(anno / f"{nm}.txt")   # frames sequences/<name>/%05d.jpg from 1, one per box (pytracking)
        frames = numbered_frames(root / "sequences" / nm[4:], 1, len(gt), 5, ".jpg")
        seqs.append(Sequence(name=nm, dataset="nfs", frames=frames, video=None, boxes=gt,
                             annotation=anno / f"{nm}.txt"))
    return seqs


# TNL2K frames damaged in older downloads (sequence, image file) and their fix. The TNL2K authors published a fixed
# 00000492.png of test_015_Sord_video_Q01_done in their evaluation toolkit repository on 2022-04-17; OSTrack's and
# pytracking's TNL2K loaders note that they replaced it with a copy of 00000491.png.
TNL2K_DAMAGED = {("test_015_Sord_video_Q01_done", "00000492.png"):
                 "this is TNL2K's known damaged frame (older downloads of the dataset); replace it with the fixed "
                 "00000492.png the TNL2K authors published on 2022-04-17 "
                 "(https://github.com/wangxiao5791509/TNL2K_evaluation_toolkit), or with a copy of 00000491.png of "
                 "the same folder as OSTrack's TNL2K loader notes"}


def _images_past(rule: NumberedFrames, boxes: int) -> int:
    """How many numbered images a folder whose first `boxes` frames `rule` names holds: `boxes`, found with one file
    check, unless the next number is there too (then counted with a few more: `count_numbered`)."""
    if not (rule.folder / rule.name(boxes)).is_file():
        return boxes
    return count_numbered(rule.folder, rule.first, rule.digits, rule.ext)


def read_tnl2k(root: Path, split: str | None, names: list[str] | None) -> list[Sequence]:
    """Every TNL2K sub-folder with a groundtruth.txt; frames are the sorted listing of imgs/ (numbered from 0 or 1:
    a rule, the folder listed only when its last frame is absent; a gap is named when its frame is read).

    Images past the last box are dropped, with one ExtraImagesWarning per such sequence naming both counts: OSTrack's
    TNL2K loader takes every image of imgs/ (ostrack_spec.md 6.1: frames = sorted listing of imgs/) and tracks them,
    and its analysis truncates predictions longer than the ground truth (metrics.md 3.2, "More predictions than GT
    frames: truncated in pytracking"), so they are never scored and the scores are the same. Fewer images than
    boxes is an error."""
    avail = sorted(d.name for d in root.iterdir() if (d / "groundtruth.txt").is_file())
    if not avail:
        raise no_sequences("TNL2K sequence (a <seq>/ folder with groundtruth.txt and imgs/)", root,
                           lambda d: any((c / "groundtruth.txt").is_file() for c in d.iterdir()),
                           "point the root at the folder that holds the sequence folders")
    if not any((root / nm / "imgs").is_dir() for nm in avail):   # each one's imgs/ was 'missing; re-download'
        raise DatasetError(f"no TNL2K sequence under {root}: its folders with a groundtruth.txt have no imgs/ "
                           "folder, as TNL2K's have (frames beside the box file are GOT-10k's layout, a dt data "
                           "synth set's or one's own footage's: --dataset folder reads them); point the root at the "
                           "folder that holds TNL2K's sequence folders")
    lost = sorted(d.name for d in root.iterdir() if (d / "imgs").is_dir() and not (d / "groundtruth.txt").exists())
    if lost:   # left out without a word: the benchmark's average lacked it
        raise DatasetError(f"TNL2K {root / lost[0]} has imgs/ but no groundtruth.txt"
                           f"{f' (and {len(lost) - 1} more)' if len(lost) > 1 else ''}; re-extract the sequence")
    seqs = []
    for nm in select(avail, names, "tnl2k"):
        gt = load_boxes(root / nm / "groundtruth.txt")
        rule = probe_numbered(root / nm / "imgs", len(gt))
        whole = rule is not None and rule[-1].is_file()   # its first and last frame there: no listing
        frames = rule if whole else list_images(root / nm / "imgs")
        gap = numbered_gap(frames[:len(gt)]) if rule is None else None   # its first image lost: every frame on
        if gap is not None:                                                 # the box of the one before it
            raise missing_frame(gap)
        if len(frames) < len(gt):
            raise DatasetError(f"{root / nm / 'groundtruth.txt'} has {len(gt)} boxes for {len(frames)} images in "
                               f"{root / nm / 'imgs'}; re-extract the sequence")
        images = _images_past(rule, len(gt)) if whole else len(frames)
        if images > len(gt):
            warnings.warn(f"TNL2K {nm}: {images} images in {root / nm / 'imgs'} for {len(gt)} ground-truth boxes; the "
                          f"{images - len(gt)} past the last box are not tracked (OSTrack tracks them, and its "
                          "analysis truncates the results to the boxes: the scores are the same)", ExtraImagesWarning,
                          stacklevel=2)
        frames = rule if rule is not None else frames[:len(gt)]   # a gap: named when that frame is read
        known = {f: fix for (seq, f), fix in TNL2K_DAMAGED.items() if seq == nm}   # frames named only if needed
        damage = {i: known[f.name] for i, f in enumerate(frames) if f.name in known} if known else {}
        seqs.append(Sequence(name=nm, dataset="tnl2k", frames=frames, video=None, boxes=gt, known_damage=damage))
    return seqs
