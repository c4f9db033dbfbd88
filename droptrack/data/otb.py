"""OTB-100 reader: root/<Seq>/{img/%04d.jpg, groundtruth_rect.txt} with ',' / tab / space delimiters.

Two-target folders (Jogging, Skating2: groundtruth_rect.1.txt and .2.txt) give <Seq>_1 and <Seq>_2; OTB-100 uses
only Human4_2. Irregular sequences follow the OTB-2015 protocol (frame ranges as in the benchmark's sequence list).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from droptrack.data.labels import load_boxes
from droptrack.data.sequence import Sequence, missing_frame, no_sequences, numbered_frames, select
from droptrack.errors import DatasetError, PartialDatasetWarning


@dataclass(frozen=True)
class _Range:
    """First and last image number used by the benchmark, digits of the file names, GT rows skipped at the start."""

    start: int = 1
    end: int | None = None
    digits: int = 4
    init_omit: int = 0


# Sequences whose images do not simply run 1..len(groundtruth): extra leading/trailing images or wider names.
IRREGULAR: dict[str, _Range] = {
    "BlurCar1": _Range(247, 988), "BlurCar3": _Range(3, 359), "BlurCar4": _Range(18, 397),
    "Board": _Range(1, 698, digits=5), "David": _Range(300, 770), "Diving": _Range(1, 215),
    "Football1": _Range(1, 74), "Freeman3": _Range(1, 460), "Freeman4": _Range(1, 283),
    "Tiger1": _Range(1, 354, init_omit=5),  # the first 5 frames are not used: starts at image 6
    "Human4_2": _Range(1, 667), "Jogging_1": _Range(1, 307), "Jogging_2": _Range(1, 307),
    "Skating2_1": _Range(1, 473), "Skating2_2": _Range(1, 473),
}
_EXCLUDED = {"Human4_1"}  # not part of OTB-100
# The 100 sequences of OTB-100 (OTB-2015) as this reader names them: two-target folders give <Seq>_<k>.
OTB100 = tuple("""Basketball Biker Bird1 Bird2 BlurBody BlurCar1 BlurCar2 BlurCar3 BlurCar4 BlurFace BlurOwl Board
Bolt Bolt2 Box Boy Car1 Car2 Car24 Car4 CarDark CarScale ClifBar Coke Couple Coupon Crossing Crowds Dancer Dancer2
David David2 David3 Deer Diving Dog Dog1 Doll DragonBaby Dudek FaceOcc1 FaceOcc2 Fish FleetFace Football Football1
Freeman1 Freeman3 Freeman4 Girl Girl2 Gym Human2 Human3 Human4_2 Human5 Human6 Human7 Human8 Human9 Ironman
Jogging_1 Jogging_2 Jump Jumping KiteSurf Lemming Liquor Man Matrix Mhyang MotorRolling MountainBike Panda RedTeam
Rubik Shaking Singer1 Singer2 Skater Skater2 Skating1 Skating2_1 Skating2_2 Skiing Soccer Subway Surfer Suv
Sylvester Tiger1 Tiger2 Toy Trans Trellis Twinnings Vase Walking Walking2 Woman""".split())
_MULTI = re.compile(r"groundtruth_rect\.(\d+)\.txt")


def _available(root: Path) -> dict[str, Path]:
    """Sequence name -> GT file for every folder under root with img/ and a groundtruth_rect*.txt."""
    out: dict[str, Path] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        multi = [(m.group(1), f) for f in sorted(d.glob("groundtruth_rect.*.txt")) if (m := _MULTI.fullmatch(f.name))]
        if not multi and (d / "groundtruth_rect.txt").is_file():
            out[d.name] = d / "groundtruth_rect.txt"
        for k, f in multi:  # a two-target folder: its plain groundtruth_rect.txt (if any) is not used
            if f"{d.name}_{k}" not in _EXCLUDED:
                out[f"{d.name}_{k}"] = f
    return out


def _image_name(folder: Path, number: int, digits: int) -> tuple[int, str]:
    """Digits and extension of the first image (jpg, else png as in KiteSurf; 4 or 5 digits); without any img/
    folder (only the annotation, to score result files: no image is read, as in pytracking's analysis) the
    benchmark's own, and a frame that is not there is named when the sequence is tracked."""
    if not folder.exists():
        return digits, ".png" if folder.parent.name == "KiteSurf" else ".jpg"
    for nz in dict.fromkeys((digits, 4, 5)):
        for ext in (".jpg", ".png"):
            if (folder / f"{number:0{nz}d}{ext}").is_file():
                return nz, ext
    raise missing_frame(folder / f"{number:0{digits}d}.jpg")   # 0001.JPG there: the rename is named


def check_rows(name: str, gt_path: Path, found: int, rng: _Range) -> None:
    """A sequence whose boxes do not start at image 1 (David, BlurCar1/3/4, Tiger1) has exactly the official file's
    rows (one per image start..end): with another count (a file rebuilt from pysot's annotation, which leaves out
    Tiger1's first 5 rows) its boxes would be paired with the wrong images."""
    if (rng.start == 1 and not rng.init_omit) or rng.end is None:
        return
    expected = rng.end - rng.start + 1
    if found != expected:
        raise DatasetError(f"OTB {name}: {gt_path} has {found} rows, the official file has {expected} (one per image "
                           f"{rng.start:04d}..{rng.end:04d}), so its boxes would not line up with the images; put "
                           f"back the official OTB-2015 groundtruth_rect.txt of {name}")


def read_sequence(name: str, gt_path: Path) -> Sequence:
    """One OTB sequence with its irregular frame range applied."""
    rng = IRREGULAR.get(name, _Range())
    rows = load_boxes(gt_path)
    check_rows(name, gt_path, len(rows), rng)
    gt = rows[rng.init_omit:]
    first = rng.start + rng.init_omit
    n = len(gt) if rng.end is None else min(len(gt), rng.end - first + 1)
    folder = gt_path.parent / "img"
    digits, ext = _image_name(folder, first, rng.digits)
    frames = numbered_frames(folder, first, n, digits, ext)
    return Sequence(name=name, dataset="otb", frames=frames, video=None, boxes=gt[:n],
                    images_before=first - 1)


def warn_partial(root: Path, found: list[str]) -> None:
    """One PartialDatasetWarning when root holds fewer than OTB-100's 100 sequences (a partial download, or OTB-2013's
    subset): every sequence found is scored, and that score is not the benchmark's."""
    missing = [nm for nm in OTB100 if nm not in set(found)]
    if not missing:
        return
    some = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
    warnings.warn(f"OTB root {root} holds {len(OTB100) - len(missing)} of the {len(OTB100)} OTB-100 sequences "
                  f"({len(missing)} missing: {some}), so its scores are not comparable to published OTB-100 numbers; "
                  "download the missing sequences for a full OTB-100 score", PartialDatasetWarning, stacklevel=3)


def read(root: Path, split: str | None, names: list[str] | None) -> list[Sequence]:
    """Every OTB sequence found under root (100 for the full benchmark; fewer, when all are read: one warning);
    `split` is not used."""
    avail = _available(root)
    if not avail:
        raise no_sequences("OTB sequence (a <Seq>/groundtruth_rect.txt)", root, lambda d: bool(_available(d)),
                           "point the root at the folder that holds Basketball/, Biker/, ...")
    if names is None:   # --sequences picks a subset on purpose
        warn_partial(root, list(avail))
    return [read_sequence(nm, avail[nm]) for nm in select(list(avail), names, "otb")]
