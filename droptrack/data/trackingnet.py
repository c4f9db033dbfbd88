"""TrackingNet reader: root/{TRAIN_0..TRAIN_11,TEST}/{frames/<seq>/<i>.jpg (0-based), anno/<seq>.txt}."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from droptrack.data.frames import count_numbered
from droptrack.data.labels import load_boxes
from droptrack.data.sequence import (Sequence, case_variant, list_images, missing_frame, numbered_frames,
                                     one_folder_down, pad_boxes, select)
from droptrack.errors import DatasetError, PartialDatasetWarning
from droptrack.wording import counted


def own_chunk(root: Path) -> str | None:
    """The chunk a root that is itself a chunk folder is (TEST or TRAIN_k: anno/ in it, no chunk of that name under
    it, as a split folder given as GOT-10k's root), else None."""
    own = root.name.upper()
    if not re.fullmatch(r"TEST|TRAIN_\d+", own) or not (root / "anno").is_dir() or (root / own).is_dir():
        return None
    return own


def _chunks(root: Path, split: str | None) -> list[Path]:
    """Chunk folders for 'test' (default), 'train' (every TRAIN_k present) or one 'TRAIN_k'; a chunk folder given
    as the root is read as the chunk it is."""
    own = own_chunk(root)
    if own is not None:
        if split is None or split.upper() == own:
            return [root]
        raise DatasetError(f"TrackingNet split {split} was asked for, but {root} is the {own} chunk folder (anno/ "
                           f"and frames/ in it); point the root at {root.parent}, the folder that holds TEST/ and "
                           "TRAIN_0/ ... TRAIN_11/")
    split = split or "test"
    s = split.upper()
    if s == "TEST":
        chunks = [root / "TEST"]
    elif s == "TRAIN":
        chunks = sorted((p for p in root.glob("TRAIN_*") if p.is_dir() and re.fullmatch(r"TRAIN_\d+", p.name)),
                        key=lambda p: int(p.name[6:]))
    elif re.fullmatch(r"TRAIN_\d+", s):
        chunks = [root / s]
    else:
        raise DatasetError(f"unknown TrackingNet split {split!r}; use test, train or TRAIN_0..TRAIN_11")
    if not chunks or not all(c.is_dir() for c in chunks):
        missing = chunks[0] if chunks else root / "TRAIN_0"
        if root.name in ("anno", "frames") and own_chunk(root.parent) is not None:   # TRAIN_0/anno given
            raise DatasetError(f"TrackingNet folder {missing} is missing: {root} is the {root.name}/ folder of chunk "
                               f"{root.parent.name}; point the root at {root.parent.parent}, the folder that holds "
                               "TEST/ and TRAIN_0/ ... TRAIN_11/")
        sub = one_folder_down(root, lambda d: (d / missing.name).is_dir())
        if sub is not None:
            raise DatasetError(f"TrackingNet folder {missing} is missing, but {sub / missing.name} is there; point "
                               f"the root at {sub}")
        raise DatasetError(f"TrackingNet folder {missing} is missing; extract the {split} chunks under the root")
    return chunks


def read_sequence(chunk: Path, name: str, gt: np.ndarray | None = None) -> Sequence:
    """One sequence (`gt`: its annotation, if read already); frames are <i>.jpg counted from 0, test GT has only the
    first row (rest NaN); a test sequence has as many frames as .jpg files, what pytracking lists (another image
    lying there is not a frame)."""
    gt = load_boxes(chunk / "anno" / f"{name}.txt") if gt is None else gt
    folder = chunk / "frames" / name
    if len(gt) > 1:
        frames = numbered_frames(folder, 0, len(gt), 0, ".jpg")
        if (folder / f"{len(gt)}.jpg").is_file():   # a frame past the last row: only len(gt) were tracked
            count = count_numbered(folder, 0, 0, ".jpg")
            raise DatasetError(f"{chunk / 'anno' / f'{name}.txt'} has {len(gt)} rows for the {count} frames of "
                               f"{folder} (0.jpg to {count - 1}.jpg); a TrackingNet annotation has one row per frame, "
                               f"or only the first in TEST: download it again with the TrackingNet devkit "
                               f"(--chunk {_devkit_chunk([chunk.name])} --data anno)")
    else:
        n = sum(p.suffix == ".jpg" for p in list_images(folder))
        if n == 0 and case_variant(folder / "0.jpg") is not None:   # 0.JPG, 1.JPG ...: the rename that fixes them
            raise missing_frame(folder / "0.jpg")
        if n == 0:
            raise DatasetError(f"TrackingNet frame folder {folder} is empty; re-extract {chunk.name}")
        frames = numbered_frames(folder, 0, n, 0, ".jpg")
    return Sequence(name=name, dataset="trackingnet", frames=frames, video=None, boxes=pad_boxes(gt, len(frames)),
                    annotation=chunk / "anno" / f"{name}.txt")


def read(root: Path, split: str | None, names: list[str] | None) -> list[Sequence]:
    """Sequences of TrackingNet 'test' (default), 'train' or one chunk; visibility is w, h > 0 (no flags)."""
    pairs: dict[str, Path] = {}
    chunks = _chunks(root, split)
    for chunk in chunks:
        anno = chunk / "anno"
        if not anno.is_dir():
            raise DatasetError(f"TrackingNet annotation folder {anno} is missing; download it with the TrackingNet "
                               f"devkit: python download_TrackingNet.py --trackingnet_dir {root} --chunk "
                               f"{_devkit_chunk([chunk.name])} --data anno")
        for f in sorted(anno.glob("*.txt")):
            if not f.name.startswith("."):   # macOS's ._<seq>.txt beside each file of a copied folder: no sequence
                pairs.setdefault(f.stem, chunk)
    for chunk in (c for c in chunks if c.name.upper() == "TEST" and (c / "frames").is_dir()):   # a submission needs
        lost = sorted(d.name for d in (chunk / "frames").iterdir()                            # every sequence
                      if d.is_dir() and not d.name.startswith(".") and d.name not in pairs)
        if lost:   # left out as pytracking leaves them (it lists anno/), but not without a word: the zip lacks them
            warnings.warn(f"TrackingNet {chunk.name}: frames/{lost[0]}/ has no anno/{lost[0]}.txt"
                          f"{f' (and {len(lost) - 1} more)' if len(lost) > 1 else ''}: left out, and a submission "
                          "needs every sequence; download the annotations with the TrackingNet devkit: python "
                          f"download_TrackingNet.py --trackingnet_dir {root} --chunk {_devkit_chunk([chunk.name])} "
                          "--data anno", PartialDatasetWarning, stacklevel=3)
    chosen = select(list(pairs), names, "trackingnet")
    if names is None:   # every sequence (training): a TRAIN_k chunk extracted in part is noted, its complete ones read
        _check_frames(pairs, [nm for nm in chosen if pairs[nm].name.upper() == "TEST"])
        return _read_chunks(chunks, pairs, chosen)
    _check_frames(pairs, chosen)
    return [read_sequence(pairs[nm], nm) for nm in chosen]


def _read_chunks(chunks: list[Path], pairs: dict[str, Path], chosen: list[str]) -> list[Sequence]:
    """The chosen sequences; a TRAIN_k sequence left incomplete by a download or extraction cut short (no frames/<seq>/
    folder, an annotation that does not read, its last frame missing, or frames/<seq>/ without anno/<seq>.txt) is
    left out, with one PartialDatasetWarning per chunk naming how many (it stopped the whole run, or was skipped
    without a word); TEST is read as strictly as ever (a submission needs every sequence)."""
    seqs: list[Sequence] = []
    lacking: dict[Path, dict[str, list[str]]] = {}
    for nm in chosen:
        chunk = pairs[nm]
        if chunk.name.upper() == "TEST":
            seqs.append(read_sequence(chunk, nm))
            continue
        why = None if (chunk / "frames" / nm).is_dir() else "without frames/<seq>/"
        try:
            gt = load_boxes(chunk / "anno" / f"{nm}.txt") if why is None else None
        except DatasetError:   # empty or cut off mid-line
            why = "with an unreadable anno/<seq>.txt"
        if why is None and len(gt) > 1:   # a train sequence: one frame per row, so its last one must be there
            last = chunk / "frames" / nm / f"{len(gt) - 1}.jpg"   # 299.JPG: complete; its rename is named where read
            why = None if last.is_file() or case_variant(last) is not None else "with frames missing at the end"
            if why is None and (chunk / "frames" / nm / f"{len(gt)}.jpg").is_file():
                why = "with an anno/<seq>.txt shorter than its frames"
        if why is None:
            seqs.append(read_sequence(chunk, nm, gt))
        else:
            lacking.setdefault(chunk, {}).setdefault(why, []).append(nm)
    for chunk in (c for c in chunks if c.name.upper() != "TEST"):
        frames = chunk / "frames"
        strays = sorted(d.name for d in frames.iterdir() if d.is_dir() and not d.name.startswith(".")
                        and d.name not in pairs) if frames.is_dir() else []
        if strays:
            lacking.setdefault(chunk, {})["without anno/<seq>.txt"] = strays
        if chunk in lacking:
            total = sum(pairs[nm] == chunk for nm in chosen) + len(strays)
            _warn_partial(chunk, total, lacking[chunk])
    return seqs


def _warn_partial(chunk: Path, total: int, lacking: dict[str, list[str]]) -> None:
    """One PartialDatasetWarning: how many of a chunk's sequences are incomplete, of which kind, and the devkit's two
    steps that complete it (download fetches only missing files, extraction redoes folders of the wrong size)."""
    count = sum(map(len, lacking.values()))
    kinds = "; ".join(f"{len(nms)} {why} ({', '.join(nms[:3])}{', ...' if len(nms) > 3 else ''})"
                      for why, nms in lacking.items())
    root, k = chunk.parent, _devkit_chunk([chunk.name])
    warnings.warn(f"TrackingNet {chunk.name} is incomplete: {count} of its {counted(total, 'sequence')} "
                  f"{'is' if count == 1 else 'are'} left out ({kinds}); "
                  f"complete it with the TrackingNet devkit: python download_TrackingNet.py --trackingnet_dir {root} "
                  f"--chunk {k} --data all && python extract_frame.py --trackingnet_dir {root} --chunk {k}",
                  PartialDatasetWarning, stacklevel=2)


def _check_frames(pairs: dict[str, Path], chosen: list[str]) -> None:
    """Every chosen annotation has its frames/<seq> folder, else one line naming how many and which are missing,
    and the devkit's extraction step when their zips are there (downloaded, not extracted)."""
    missing = [nm for nm in chosen if not (pairs[nm] / "frames" / nm).is_dir()]
    if not missing:
        return
    some = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
    chunks = sorted({pairs[nm].name for nm in missing})
    zipped = all((pairs[nm] / "zips" / f"{nm}.zip").is_file() for nm in missing)
    fix = (f"extract them with the TrackingNet devkit: python extract_frame.py --trackingnet_dir "
           f"{pairs[missing[0]].parent} --chunk {_devkit_chunk(chunks)}" if zipped
           else f"re-download and extract {', '.join(chunks)}")
    raise DatasetError(f"{len(missing)} of the {len(chosen)} TrackingNet sequences with an annotation in "
                       f"{', '.join(c + '/anno' for c in chunks)} {'has' if len(missing) == 1 else 'have'} no "
                       f"frames/<seq> folder ({some}); {fix}")


def _devkit_chunk(chunks: list[str]) -> str:
    """The devkit scripts' --chunk value for these chunk folders: Test, 0,2 (TRAIN_0, TRAIN_2) or ALL (both)."""
    return "Test" if chunks == ["TEST"] else "ALL" if "TEST" in chunks else ",".join(c[6:] for c in chunks)
