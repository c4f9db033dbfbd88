"""UAV123 reader: root/data_seq/UAV123/<folder>/%06d.jpg and root/anno/UAV123/<seq>.txt (',' with NaN rows).

Long videos are split into several benchmark sequences (bird1_1, bird1_2, ...) that share one image folder; the
first image number of each part follows the UAV123 configuration (its last image = first + len(annotation) - 1).
Sequences are named `uav_<annotation stem>` as in pytracking/OSTrack (so result files are `uav_bird1_2.txt`); the
bare stem (`bird1_2`) is accepted when selecting sequences.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from droptrack.data.labels import load_boxes
from droptrack.data.sequence import Sequence, numbered_frames, one_folder_down, select
from droptrack.errors import DatasetError

# folder -> first image number of parts _1, _2, ...
SPLIT_STARTS: dict[str, tuple[int, ...]] = {
    "bird1": (1, 775, 1573), "car1": (1, 751, 1627), "car6": (1, 487, 1807, 2953, 3925), "car8": (1, 1357),
    "car16": (1, 415), "group1": (1, 1333, 2515, 3925), "group2": (1, 907, 1771), "group3": (1, 1567, 2827, 4369),
    "person2": (1, 1189), "person4": (1, 1501), "person5": (1, 877), "person7": (1, 1249), "person8": (1, 1075),
    "person12": (1, 601), "person14": (1, 847, 1813), "person17": (1, 1501), "person19": (1, 1243, 2791),
    "truck4": (1, 577), "uav1": (1, 1555, 2473),
}
_PART = re.compile(r"(.+)_(\d+)")
PREFIX = "uav_"


def _official(name: str, stems: set[str]) -> str:
    """The `uav_<stem>` name of a sequence given with or without the prefix (unknown names pass through)."""
    return PREFIX + name if name in stems else name


def _folder_and_start(data: Path, name: str) -> tuple[Path, int]:
    """Image folder and first image number of a (possibly split) sequence. Without data_seq/UAV123 at all (only
    anno/ extracted, to score result files: no image is read) the paths are made by the same rule, and a frame
    that is not there is named when the sequence is tracked, as pytracking's analysis needs no image either."""
    if (data / name).is_dir():
        return data / name, 1
    m = _PART.fullmatch(name)
    if m and m.group(1) in SPLIT_STARTS and 1 <= int(m.group(2)) <= len(SPLIT_STARTS[m.group(1)]):
        return data / m.group(1), SPLIT_STARTS[m.group(1)][int(m.group(2)) - 1]
    if not data.is_dir():
        return data / name, 1
    raise DatasetError(f"UAV123 image folder {data / name} is missing; extract data_seq/UAV123 under the root")


def read(root: Path, split: str | None, names: list[str] | None) -> list[Sequence]:
    """Every sequence with an annotation in anno/UAV123 (123 for the full benchmark); NaN GT rows are kept."""
    anno, data = root / "anno" / "UAV123", root / "data_seq" / "UAV123"
    sub = None if anno.is_dir() else one_folder_down(root, lambda d: (d / "anno" / "UAV123").is_dir())
    if sub is not None:   # the UAV123/ folder of the archive
        raise DatasetError(f"UAV123 annotation folder {anno} is missing, but {sub / 'anno' / 'UAV123'} is there; "
                           f"point the root at {sub}")
    if not anno.is_dir():
        raise DatasetError(f"UAV123 annotation folder {anno} is missing; the root must hold anno/ and data_seq/")
    stems = sorted(f.stem for f in anno.glob("*.txt") if not f.name.startswith("."))   # macOS ._<seq>.txt: none
    wanted = None if names is None else [_official(nm, set(stems)) for nm in names]
    seqs = []
    for nm in select([PREFIX + st for st in stems], wanted, "uav"):
        stem = nm[len(PREFIX):]
        gt = load_boxes(anno / f"{stem}.txt")
        part = np.flatnonzero(np.isnan(gt).any(1) & ~np.isnan(gt).all(1))   # NaN,NaN,NaN,NaN marks an absent target
        if len(part):   # a row NaN in part: the sequence was left out of every average at scoring, blamed on inf
            raise DatasetError(f"{anno / f'{stem}.txt'}:{part[0] + 1}: a row of numbers and NaN; a row is 4 numbers, "
                               "or NaN,NaN,NaN,NaN where the target is absent: re-download the annotation")
        folder, start = _folder_and_start(data, stem)
        seqs.append(Sequence(name=nm, dataset="uav", frames=numbered_frames(folder, start, len(gt), 6, ".jpg"),
                             video=None, boxes=gt, annotation=anno / f"{stem}.txt"))
    return seqs
