"""GOT-10k reader: root/{train,val,test}/list.txt and <seq>/{00000001.jpg.., groundtruth.txt, absence.label,
cover.label, meta_info.ini}.

The synthetic benchmark (`droptrack.data.synth`) is written in the same layout and read by this module as 'synth'.
The training recipe's GOT10K_vottrain (7,086) and GOT10K_votval (1,249) are subsets of the 9,335-sequence train split
that leave out sequences shared with VOT: splits/got10k_vot_{train,val}_split.txt are the official data_specs files
of pytracking/OSTrack (0-based indices into train/list.txt, in their order, which sampling follows).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from droptrack.data.folder import check_no_frame_without_row, checked_boxes, frames_folder, own_boxes
from droptrack.data.frames import NumberedFrames, compact, count_numbered, numbered_gap
from droptrack.data.labels import COVER_TOP, load_boxes, load_flags
from droptrack.data.sequence import (Sequence, list_images, missing_frame, numbered_frames, one_folder_down, pad_boxes,
                                     select)
from droptrack.imagefiles import frame_images, listed_images, ordered
from droptrack.errors import CONTROL, DatasetError, few_names, shown
from droptrack.textfiles import read_table

SPLITS = ("train", "val", "test")
VOT_SPLITS = {"vottrain": "got10k_vot_train_split.txt", "votval": "got10k_vot_val_split.txt"}
TRAIN_SEQUENCES = 9335   # the official train split, which the vot split files index


def vot_split_names(root: Path, split: str) -> list[str]:
    """The names of GOT10K_vottrain / GOT10K_votval: the official index file applied to train/list.txt, or one
    DatasetError when that list is not the full official train split (the indices would pick other sequences)."""
    folder = split_dir(root, "train")
    names = sequence_names(folder, "got10k")
    if len(names) != TRAIN_SEQUENCES:
        raise DatasetError(f"GOT-10k {split} is a fixed subset of the official {TRAIN_SEQUENCES}-sequence train split "
                           f"(indices into its list.txt), and {folder / 'list.txt'} lists {len(names)}; extract the "
                           "whole train split, or train on GOT10K_train_full (every train sequence there)")
    ids = (Path(__file__).parent / "splits" / VOT_SPLITS[split]).read_text().split()
    return [names[int(i)] for i in ids]


def folder_split(root: Path, split: str) -> str | None:
    """The split a root that is itself a split folder is (its name: train, val or test; list.txt in it, no <split>/
    folder), or None (a top folder, or a split folder with another name, which cannot tell)."""
    own = root.name.lower()
    if (root / split).is_dir() or not (root / "list.txt").is_file() or own not in SPLITS:
        return None
    return own


def split_dir(root: Path, split: str, dataset: str = "got10k") -> Path:
    """The folder holding list.txt for `split` (root itself when root already is a split folder, of that split)."""
    if (root / split).is_dir():
        return root / split
    own = folder_split(root, split) if dataset != "synth" else None
    if own is not None and own != split:   # '--split test' on got10k/val evaluated val under the name test
        raise DatasetError(f"{dataset} split {split} was asked for, but {root} is the {own} split folder (list.txt, "
                           f"no {split}/ in it); point the root at the {split} folder (or the folder above it), or "
                           f"ask for the {own} split")
    if (root / "list.txt").is_file() or dataset == "synth":
        return root
    sub = one_folder_down(root, lambda d: (d / split / "list.txt").is_file())
    if sub is not None:   # full_data/ of GOT-10k's archive
        raise DatasetError(f"{dataset} split folder {root / split} is missing, but {sub / split} is there; point the "
                           f"root at {sub}")
    if root.is_dir() and any((d / "groundtruth.txt").is_file() for d in root.iterdir() if d.is_dir()):
        raise DatasetError(f"{root} holds sequence folders but no list.txt (the split's own list of its sequences, "
                           "which the official toolkits read); re-extract the split from its GOT-10k archive, or point "
                           f"the root at the folder that contains {'/'.join(SPLITS)}")   # not 'val is missing'
    raise DatasetError(f"{dataset} split folder {root / split} is missing; point the root at the folder that "
                       f"contains {'/'.join(SPLITS)} (or at a split folder with list.txt)")


def sequence_names(folder: Path, dataset: str = "synth") -> list[str]:
    """Names from list.txt, in its order, as the GOT-10k toolkit and pytracking read a split; a synthetic set (one's
    own footage) without list.txt: its sorted sub-folders that hold a groundtruth.txt. GOT-10k itself without
    list.txt is refused, as the official tools refuse it: a listing would add any folder lying there. A name in
    list.txt is one folder of the split: a path (`../x`, `/home/x`) would read a sequence from elsewhere."""
    lst = folder / "list.txt"
    if not lst.is_file() and dataset == "got10k":
        raise DatasetError(f"GOT-10k split folder {folder} has no list.txt (the split's own list of its sequences, "
                           "which the official toolkits read); re-extract the split from its GOT-10k archive (one's "
                           "own sequences in this layout are read as the synth dataset)")
    if lst.is_file():
        text = read_table(lst, DatasetError, "re-download or re-extract the dataset")
        names = [ln.strip() for ln in text.splitlines() if ln.strip()]   # garbage: no folder
        bad = next((nm for nm in names if nm in (".", "..") or "/" in nm or "\\" in nm or CONTROL.search(nm)), None)
        if bad is not None:
            raise DatasetError(f"{lst} names {shown(bad, 60)}, which is not a sequence folder of that split (a path "
                               "or control characters); re-download or re-extract the dataset, or remove that line")
        return list(dict.fromkeys(names))   # a name listed twice is one sequence (the toolkits skip its rerun)
    subs = sorted(p for p in folder.iterdir() if p.is_dir())
    names = [p.name for p in subs if (p / "groundtruth.txt").is_file()]
    bare = [p.name for p in subs if p.name not in names and not p.name.startswith(".")
            and list_images(p, warn=False)]
    if bare:   # footage copied in without its boxes was left out without a word
        raise DatasetError(f"{folder} holds {len(bare)} folder(s) of frames without a groundtruth.txt "
                           f"({few_names(bare, 3)}), "
                           "which would be left out; add one to each (x,y,w,h per frame, the first row the init box, "
                           "NaN where unknown), or move them out of the folder")
    return names


def check_listed(folder: Path, names: list[str], removable: bool = True) -> None:
    """Every sequence list.txt names has its folder, else one line naming how many and which are missing (the
    first 5), found before any is read (it was the first missing one, after the ones before it were read); not
    `removable` where the names come from indices into list.txt (the vot splits)."""
    missing = [nm for nm in names if not (folder / nm).is_dir()]
    if missing:
        some = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        one = len(missing) == 1
        raise DatasetError(f"{len(missing)} of the {len(names)} sequences listed in {folder / 'list.txt'} "
                           f"{'has' if one else 'have'} no folder ({some}); re-extract the split" + (
                               f", or remove {'it' if one else 'them'} from list.txt" if removable else ""))


def _check_all_listed(folder: Path, listed: list[str]) -> None:
    """One's own set (or a `dt data synth` set) whose list.txt leaves out sequence folders lying beside the listed
    ones is refused: footage copied into a generated set was never read, silently."""
    known = set(listed)
    left = [p.name for p in sorted(folder.iterdir()) if p.name not in known and (p / "groundtruth.txt").is_file()]
    if left:
        some = ", ".join(left[:3]) + (", ..." if len(left) > 3 else "")
        raise DatasetError(f"{folder} holds {len(left)} sequence folder(s) that its list.txt does not name ({some}), "
                           f"which would be left out; add them to {folder / 'list.txt'} (one name a line), or move them "
                           "out of the folder")


def _own_frames(folder: Path, n: int) -> list[Path]:
    """The first n images of one's own sequence whose frames are not named 00000001.jpg ... (frame_1.jpg,
    0001.png: natural order, as the image-folder reader); fewer or more images than GT rows is a DatasetError."""
    from droptrack.imagefiles import frames_problem

    why = frames_problem(folder)
    if why is not None:
        raise DatasetError(why)
    frames = list_images(folder, natural=True)
    if len(frames) < n:
        raise DatasetError(f"{folder} has {n} GT rows but {len(frames)} images; add the missing frames or trim "
                           "groundtruth.txt")
    check_no_frame_without_row(folder, n, len(frames))   # the listing above, not a second one (nor its strays
    return frames[:n]                                     # decoded again)


def read_sequence(folder: Path, dataset: str = "got10k") -> Sequence:
    """One GOT-10k-layout sequence; labels are optional (the test split has none)."""
    if not folder.is_dir():
        raise DatasetError(f"sequence folder {folder} (listed in list.txt) is missing; re-extract the split "
                           "or remove the name from list.txt")
    gt = own_boxes(folder / "groundtruth.txt") if dataset == "synth" else load_boxes(folder / "groundtruth.txt")
    ext = ".jpg" if (folder / "00000001.jpg").is_file() or not (folder / "00000001.png").is_file() else ".png"
    from_zero = (folder / f"00000000{ext}").is_file()   # one's own frames counted from 0: row 1 is frame 0's
    if len(gt) > 1 and dataset == "synth" and (from_zero or not (folder / f"00000001{ext}").is_file()):
        n = len(gt)
        frames = _own_frames(frames_folder(folder), n)   # its frames in it, or in img/ or imgs/ (as dt eval's
        # folder reader)
    elif len(gt) > 1:
        n = len(gt)
        frames = numbered_frames(folder, 1, n, 8, ext)
        gap = next((f for f in frames if not f.is_file()), None) if dataset == "synth" else None   # small sets
        if gap is not None:   # found now, not when training first samples it
            raise DatasetError(f"{folder} has {n} GT rows but no frame {gap.name}; add the missing frames or trim "
                               "groundtruth.txt")
        if dataset == "synth":   # _own_frames checks its own listing
            images = frames_folder(folder)
            check_no_frame_without_row(images, n, len(list_images(images, warn=False)))
        else:
            _check_frame_count(folder, n, ext)
    else:  # test split: only the first row is published; count the images (GOT-10k: its .jpg files, as the
        frames = list_images(folder) if dataset != "got10k" else _jpg_frames(folder)   # toolkits list them)
        gap = numbered_gap(frames, (1,)) if dataset == "got10k" else None   # 00000001.jpg on: a hole shifted
        if gap is not None:                                                   # every later row of the submission
            raise missing_frame(gap)
        n = len(frames)
        if n == 0:
            raise DatasetError(f"sequence folder {folder} has no images; re-extract the split")
    absence = load_flags(folder / "absence.label", n) if (folder / "absence.label").is_file() else None
    cover = load_flags(folder / "cover.label", n, top=COVER_TOP) if (folder / "cover.label").is_file() else None
    visible = None   # not absent and cover > 0 (pytracking's GOT-10k training loader; its evaluation loader reads
    # no labels: eval.score_files.ope_visible), from whichever labels are there
    if absence is not None or cover is not None:
        visible = np.ones(n, dtype=bool)
        if absence is not None:
            visible &= absence == 0
        if cover is not None:
            visible &= cover > 0
    meta = _meta_info(folder / "meta_info.ini")
    seq = Sequence(name=folder.name, dataset=dataset, frames=frames, video=None, boxes=pad_boxes(gt, n),
                   visible=visible, cover=cover, object_class=meta.get("object_class") or None,
                   resolution=_resolution(meta.get("resolution", "")))
    own = dataset == "synth" and not (folder.parent / "synth.json").is_file()   # one's own footage, not dt's set
    return checked_boxes(seq, folder / "groundtruth.txt") if own else seq


def _check_frame_count(folder: Path, rows: int, ext: str) -> None:
    """A GOT-10k sequence of more numbered frames than its groundtruth.txt has rows (one file check when it has none
    more) is refused: only `rows` frames were tracked (a test sequence's file with a second line gave a submission
    short of rows), where the GOT-10k toolkit asserts one row per frame and pytracking tracks every frame."""
    if not (folder / f"{rows + 1:08d}{ext}").is_file():
        return
    frames = count_numbered(folder, 1, 8, ext)
    raise DatasetError(f"{folder / 'groundtruth.txt'} has {rows} rows for the {frames} frames of {folder} "
                       f"(00000001{ext} to {frames:08d}{ext}); a GOT-10k groundtruth.txt has one row per frame, or "
                       "only the first in the test split: restore it from the dataset's archive")


def _jpg_frames(folder: Path) -> list[Path] | NumberedFrames:
    """The .jpg files of a GOT-10k sequence folder in frame-number order, what the GOT-10k toolkit (glob *.jpg) and
    pytracking (names ending .jpg) track: another image lying there (a preview .png) is not a frame. A folder
    without any .jpg (one's own footage in PNG beside a list.txt, read as GOT-10k by dt bench --data) keeps its
    images."""
    if not folder.is_dir():
        raise DatasetError(f"image folder {folder} is missing; re-download or re-extract the sequence")
    images = listed_images(folder)
    jpgs = [p for p in images if p.suffix == ".jpg"]
    frames = frame_images(folder, jpgs or images)   # less stray images (a cover.jpg), named in one warning
    return compact(ordered(frames) if jpgs else sorted(frames))


def _meta_info(meta: Path) -> dict[str, str]:
    """`key: value` lines of meta_info.ini (empty when the file is absent)."""
    if not meta.is_file():
        return {}
    pairs = (ln.partition(":") for ln in read_table(meta, DatasetError, "re-download the sequence").splitlines())
    return {key.strip(): val.strip() for key, sep, val in pairs if sep}


def _resolution(text: str) -> tuple[int, int] | None:
    """(W, H) of meta_info.ini's `resolution: (1920, 1080)`, the image bound the GOT-10k toolkit clips boxes to."""
    m = re.fullmatch(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)", text)
    return (int(m.group(1)), int(m.group(2))) if m and int(m.group(1)) > 0 and int(m.group(2)) > 0 else None


def _synth_made(folder: Path, names: list[str]) -> bool:
    """Whether a folder without synth.json (the generator writes it last) is a `dt data synth` set: its progress
    journal, or only sequence names it writes; any other GOT-10k-layout folder (one's own footage, also with
    generated sequences copied beside it) is read as it is."""
    from droptrack.data.synth import is_synth_sequence_name
    from droptrack.data.synth_journal import PROGRESS

    return (folder / PROGRESS).is_file() or all(is_synth_sequence_name(nm) for nm in names)


def read(root: Path, split: str | None, names: list[str] | None, dataset: str = "got10k") -> list[Sequence]:
    """Sequences of one GOT-10k split (default 'val'; 'test' has only the first GT row, the rest NaN)."""
    if split is None and dataset != "synth":   # a split folder given as the root is read as the split it is
        split = folder_split(root, "val")
    if split is None and dataset == "synth":   # training names its split; scoring a root with val/ in it scores val
        split = "val" if (root / "val").is_dir() and not (root / "list.txt").is_file() else "train"
    split = (split or "val").lower()
    if split in VOT_SPLITS and dataset == "got10k":   # the training recipe's subsets of train
        folder = split_dir(root, "train")
        chosen = select(vot_split_names(root, split), names, f"got10k {split}")
        check_listed(folder, chosen, removable=False)   # indices: list.txt must stay whole
        return [read_sequence(folder / nm) for nm in chosen]
    if split not in SPLITS:
        raise DatasetError(f"unknown {dataset} split {split!r}; use one of {', '.join(SPLITS)}"
                           + (f" (or {', '.join(VOT_SPLITS)})" if dataset == "got10k" else ""))
    folder = split_dir(root, split, dataset)
    own = dataset == "synth" and folder == root   # a set given as the root: 'train' above is a default, not its split
    chosen = select(sequence_names(folder, dataset), names,
                    f"the synthetic set {folder}" if own else f"{dataset} {split}")
    if (folder / "list.txt").is_file():
        check_listed(folder, chosen)
    if dataset == "synth" and names is None and (folder / "list.txt").is_file():
        _check_all_listed(folder, chosen)
    if dataset == "synth" and chosen and not (folder / "synth.json").is_file() and _synth_made(folder, chosen):
        raise DatasetError(f"synthetic set {folder} has no synth.json: its generation was interrupted (sequences "
                           "and list.txt may mix two runs); run the same `dt data synth` command again")
    return [read_sequence(folder / nm, dataset) for nm in chosen]

