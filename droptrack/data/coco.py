"""COCO 2017 reader: root/annotations/instances_<split>2017.json and root/<split>2017/ (or root/images/<split>2017/).

Every non-crowd instance becomes a one-frame pseudo-sequence `coco_<annotation id>` (its box in x,y,w,h pixels).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from droptrack.data.sequence import Sequence, one_folder_down, select
from droptrack.errors import DatasetError


def read(root: Path, split: str | None, names: list[str] | None) -> list[Sequence]:
    """One-frame sequences from the instances file (default split 'train'); images are not opened, their folder must
    exist (DropTrack: <split>2017/, OSTrack: images/<split>2017/)."""
    split = (split or "train").lower()
    if split not in ("train", "val"):
        raise DatasetError(f"unknown COCO split {split!r}; use train or val")
    ann_path = root / "annotations" / f"instances_{split}2017.json"
    if not ann_path.is_file():
        raise DatasetError(f"COCO annotation file {ann_path} is missing" + _other_level(root, ann_path.name))
    img_dir = root / f"{split}2017"
    if not img_dir.is_dir() and (root / "images" / f"{split}2017").is_dir():
        img_dir = root / "images" / f"{split}2017"
    try:
        data = json.loads(ann_path.read_text())
        files = {im["id"]: im["file_name"] for im in data["images"]}
        cats = {c["id"]: c["name"] for c in data["categories"]}
        anns = [a for a in data["annotations"] if not a.get("iscrowd", 0)]
        by_name = {f"coco_{a['id']}": a for a in anns}
        chosen = select(list(by_name), names, "coco")
        seqs = [_sequence(nm, by_name[nm], files, cats, img_dir) for nm in chosen]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise DatasetError(f"{ann_path} is not a COCO instances file ({type(exc).__name__}: {exc}); "
                           "re-download annotations_trainval2017.zip") from None
    if seqs and not img_dir.is_dir():   # every image would be 'missing' one by one, long after the start
        raise DatasetError(f"COCO image folder {root / f'{split}2017'} (or {root / 'images' / f'{split}2017'}) is "
                           f"missing; extract {split}2017.zip under the root")
    return seqs


def _sequence(name: str, ann: dict, files: dict, cats: dict, img_dir: Path) -> Sequence:
    """One annotation as a one-frame Sequence."""
    return Sequence(name=name, dataset="coco", frames=[img_dir / files[ann["image_id"]]], video=None,
                    boxes=np.asarray(ann["bbox"], dtype=np.float64).reshape(1, 4),
                    object_class=cats.get(ann["category_id"]))


def _other_level(root: Path, ann_name: str) -> str:
    """The fix for a root without annotations/<ann_name>: the folder to pass where the root is one level off (the
    archive's coco/ above it, or its train2017/ or annotations/ folder given), else extracting the annotations."""
    inside = root.name == "annotations" and (root / ann_name).is_file()   # annotations/ given
    if inside or (root.parent / "annotations" / ann_name).is_file():      # train2017/ (or images/) given
        return (f"; '{root}' is a folder inside the COCO root; point the root at {root.parent}, the folder holding "
                "annotations/ and train2017/")
    sub = one_folder_down(root, lambda d: (d / "annotations" / ann_name).is_file())
    if sub is not None:
        return f", but {sub / 'annotations' / ann_name} is there; point the root at {sub}"
    return "; extract annotations_trainval2017.zip under the root"
