"""`get_sequences(dataset, root, split, names)`: one entry point over every reader, with root resolution.

Root: the `root` argument, else env `DT_DATA_<NAME>` (e.g. DT_DATA_LASOT), else `$DT_DATA/<dir>` (dir below).
"""

from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from droptrack.data.sequence import Sequence
from droptrack.errors import DatasetError


@dataclass(frozen=True)
class DatasetInfo:
    """Reader location ('module:function'), env var suffix and conventional folder under $DT_DATA."""

    reader: str
    env: str
    dirname: str | None


_M = "droptrack.data."
DATASETS: dict[str, DatasetInfo] = {
    "got10k": DatasetInfo(_M + "got10k:read", "GOT10K", "got10k"),
    "lasot": DatasetInfo(_M + "lasot:read", "LASOT", "lasot"),
    "lasot_extension_subset": DatasetInfo(_M + "lasot:read", "LASOT_EXTENSION_SUBSET", "lasot_extension_subset"),
    "trackingnet": DatasetInfo(_M + "trackingnet:read", "TRACKINGNET", "trackingnet"),
    "otb": DatasetInfo(_M + "otb:read", "OTB", "otb"),
    "uav": DatasetInfo(_M + "uav:read", "UAV", "uav"),
    "nfs": DatasetInfo(_M + "nfs_tnl2k:read_nfs", "NFS", "nfs"),
    "tnl2k": DatasetInfo(_M + "nfs_tnl2k:read_tnl2k", "TNL2K", "tnl2k"),
    "coco": DatasetInfo(_M + "coco:read", "COCO", "coco"),
    "synth": DatasetInfo(_M + "got10k:read", "SYNTH", "synth"),
    "video": DatasetInfo(_M + "folder:read_video", "VIDEO", None),
    "folder": DatasetInfo(_M + "folder:read_folder", "FOLDER", None),
}
# alias -> (dataset, split it implies)
ALIASES: dict[str, tuple[str, str | None]] = {
    "got10k_test": ("got10k", "test"), "got10k_val": ("got10k", "val"), "got10k_train": ("got10k", "train"),
    "lasot_test": ("lasot", "test"), "lasot_train": ("lasot", "train"), "lasot_ext": ("lasot_extension_subset", None),
    "otb100": ("otb", None), "uav123": ("uav", None), "nfs30": ("nfs", None), "coco17": ("coco", "train"),
}
_TAKES_TAG = {"got10k", "synth", "lasot", "lasot_extension_subset"}


def env_var(dataset: str) -> str:
    """Name of the env var that gives `dataset`'s root."""
    return f"DT_DATA_{DATASETS[dataset].env}"


def canonical(dataset: str) -> tuple[str, str | None]:
    """(dataset tag, implied split) for a name or alias; unknown -> DatasetError listing names, closest first."""
    key = dataset.strip().lower().replace("-", "")
    if key in DATASETS:
        return key, None
    if key in ALIASES:
        return ALIASES[key]
    valid = list(DATASETS)
    ranked = sorted(valid, key=lambda v: -difflib.SequenceMatcher(None, key, v).ratio())
    raise DatasetError(f"unknown dataset {dataset!r}; valid names: {', '.join(ranked)}")


def check_dataset_name(dataset: str) -> None:
    """A known dataset name; a path given as --dataset (dt eval, dt analyze) -> one line naming --root (the default
    output results/<path> was the path itself: '--output VIDEO is a file')."""
    try:
        canonical(dataset)
    except DatasetError:
        path = Path(os.path.expanduser(dataset))
        if not path.exists():
            raise
        kind = "folder" if path.is_dir() else "video"
        raise DatasetError(f"--dataset takes a dataset name, and '{dataset}' is a {'folder' if path.is_dir() else 'file'}"
                           f": pass --dataset {kind} --root {dataset}") from None


def resolve_root(dataset: str, root: str | Path | None = None, how: str | None = "--root DIR") -> Path:
    """Root from the argument, else DT_DATA_<NAME>, else $DT_DATA/<dir>; missing -> DatasetError naming the fix:
    `how` the calling command takes a root (None: it takes none, only the environment variables)."""
    info = DATASETS[dataset]
    var = env_var(dataset)
    if root is not None:
        path, origin = Path(root).expanduser(), "the given root"
    elif os.environ.get(var):
        path, origin = Path(os.environ[var]).expanduser(), var
    elif os.environ.get("DT_DATA") and info.dirname:
        path, origin = Path(os.environ["DT_DATA"]).expanduser() / info.dirname, "DT_DATA"
    else:
        where = f" (or DT_DATA=DIR, a folder holding {info.dirname}/)" if info.dirname else ""
        given = f"pass {how}, or set" if how else "set"
        raise DatasetError(f"no root for {dataset}: {given} the environment variable {var}=DIR{where}")
    if not path.exists():
        near = _spelt_otherwise(path) if origin == "DT_DATA" else None
        if near is not None:   # $DT_DATA/GOT-10k, $DT_DATA/LaSOT: the dataset is there under its own spelling
            raise DatasetError(f"{dataset} root {path} (from DT_DATA) does not exist, but {near} does; rename it "
                               f"to {path.name}, or set {var}={near}")
        raise DatasetError(f"{dataset} root {path} (from {origin}) does not exist; fix the path or set {var} "
                           "to the folder that holds the dataset")
    return path


def _spelt_otherwise(path: Path) -> Path | None:
    """A folder beside `path` whose name is path's name in other case or punctuation (GOT-10k for got10k), or None."""
    def key(name: str) -> str:
        return "".join(c for c in name.lower() if c.isalnum())

    try:
        return next((p for p in sorted(path.parent.iterdir()) if key(p.name) == key(path.name) and p.is_dir()), None)
    except OSError:
        return None


def check_output_outside_root(output_dir: str | Path, dataset: str, root: str | Path | None = None,
                              label: str = "--output") -> None:
    """--output not inside the dataset's root (given, DT_DATA_<NAME> or DT_DATA): results there would be read as its
    sequences by the next run. An unknown dataset or a missing root is left to the reader, which names it."""
    from droptrack.errors import DropTrackError
    from droptrack.paths import check_not_inside

    try:
        data_root = resolve_root(canonical(dataset)[0], root)
    except DropTrackError:
        return
    check_not_inside(label, output_dir, data_root, "dataset root")


SEQUENCE_MARKERS = ("groundtruth.txt", "groundtruth_rect.txt")   # a sequence folder (GOT-10k, LaSOT, OTB, folder)
SET_MARKERS = ("synth.json",)                                      # a `dt data synth` set


def dataset_folder(path: str | Path) -> tuple[Path, str] | None:
    """The nearest folder at or above `path` that a dataset reader would read as input, and the file that says so
    (a sequence's groundtruth file, a synthetic set's marker, a list.txt naming a sequence folder), or None."""
    import os

    folder = Path(os.path.realpath(os.path.expanduser(str(path))))
    for d in (folder, *folder.parents):
        if not d.is_dir():
            continue
        mark = next((m for m in (*SEQUENCE_MARKERS, *SET_MARKERS) if (d / m).is_file()), None)
        if mark is None and (d / "list.txt").is_file():   # a GOT-10k-style split: list.txt naming its sequences
            try:
                first = (d / "list.txt").read_text(errors="replace").split("\n", 1)[0].strip()
            except OSError:
                first = ""
            mark = "list.txt" if first and any((d / first / m).is_file() for m in SEQUENCE_MARKERS) else None
        if mark is not None:
            return d, mark
    return None


def check_output_outside_datasets(label: str, output_dir: str | Path) -> None:
    """--output not inside any dataset folder (another set's sequence or split, not only this run's --root), nor a
    folder of frames (`folder.held_frames`): results written there would be read as that input by the next run
    that reads it."""
    from droptrack.errors import InputError

    found = dataset_folder(output_dir)
    if found is not None:
        raise InputError(f"{label} '{output_dir}' is inside the dataset folder '{found[0]}' (it holds {found[1]}; "
                         "results there would be read as its input); pass an output folder outside it")
    check_output_not_frames(label, output_dir)


def check_output_not_frames(label: str, output_dir: str | Path) -> None:
    """--output not a folder of video frames (one with no box file, which `dataset_folder` does not find): dt run
    would read the model, plots and reports written there among them, a plot named without digits as frame 0."""
    from droptrack.data.folder import held_frames
    from droptrack.errors import InputError

    folder = Path(os.path.expanduser(str(output_dir)))
    frames = held_frames(folder) if folder.is_dir() else None
    if frames is not None:   # a folder of video frames with no box file: dt run would read the files as frames
        raise InputError(f"{label} '{output_dir}' holds video frames ({frames[1]} images such as "
                         f"'{frames[0].relative_to(folder)}'; dt run and the dataset readers would read the files "
                         "written there as frames); pass an output folder that holds no frames, e.g. a new one "
                         "beside it")


def check_split(dataset: str, root: str | Path | None, split: str | None) -> None:
    """A user's --split only where it selects something (it was silently ignored) and agrees with the split a
    dataset alias names (got10k_val --split test read the test split under the name got10k_val): a video or image
    folder has no splits; a synthetic root holding one set (no <split>/ folder) is the split its synth.json names, a
    GOT-10k root that is a split folder (train/val/test with list.txt) the split its name says. An unknown dataset
    or a missing root is left to the reader, which names it."""
    if split is None:
        return
    from droptrack.errors import DropTrackError, InputError

    try:
        tag, implied = canonical(dataset)
        path = resolve_root(tag, root) if tag in ("synth", "got10k") else None
    except DropTrackError:
        return
    if implied is not None and split.lower() != implied:   # got10k_val --split test read the test split, named
        raise InputError(f"--split {split}: --dataset {dataset.strip()} is the {implied} split of {tag}; pass "
                         f"--dataset {tag} --split {split}, or drop --split")   # got10k_val in the report
    if tag in ("folder", "video"):
        raise InputError(f"--split {split}: --dataset {tag} reads its root as it is and has no splits; drop --split")
    if tag in ("otb", "uav", "nfs", "tnl2k"):   # one set each (TNL2K's test set is its own download)
        raise InputError(f"--split {split}: --dataset {tag} has no splits (its root holds one set of sequences); "
                         "drop --split")
    if tag == "got10k":
        from droptrack.data.got10k import folder_split

        own = folder_split(path, split.lower()) if path.is_dir() else None
        if own is not None and own != split.lower():
            raise InputError(f"--split {split}: {path} is GOT-10k's {own} split folder (list.txt, no "
                             f"{split.lower()}/ in it); drop --split, or point --root at the {split.lower()} folder "
                             "(or the folder above it)")
        return
    if path is None or (path / split.lower()).is_dir():
        return
    made = made_split(path)
    if made and made != split.lower():
        raise InputError(f"--split {split}: {path} is one synthetic set, of the {made} split (its synth.json); drop "
                         f"--split, or point --root at a {split.lower()} set")


def made_split(path: Path) -> str | None:
    """The split a `dt data synth` set was made as (its synth.json's `split`), or None (one's own set, unreadable)."""
    import json

    try:
        made = json.loads((path / "synth.json").read_text()).get("split")
    except (OSError, ValueError, AttributeError, RecursionError):   # RecursionError: JSON nested too deeply
        return None
    return made.lower() if isinstance(made, str) and made.strip() else None


SPLIT_DATASETS = ("got10k", "synth", "lasot", "trackingnet", "coco")   # --split selects one of several sets


def output_name(dataset: str, split: str | None) -> str:
    """The default results/ (dt eval) and analysis/ (dt analyze) folder of `--dataset` (and `--split`): the name as
    given, lower case (an alias such as got10k_val keeps its own name), with a --split of a dataset that has several
    after it as its alias names it (`--dataset got10k --split test`: got10k_test, where the val split's results
    were replaced by the test split's). A name that is not a plain split is left out (the reader refuses it)."""
    import re

    key = dataset.strip().lower()
    try:
        tag, implied = canonical(dataset)
    except DatasetError:
        return key
    plain = split is not None and re.fullmatch(r"[A-Za-z0-9_]+", split.strip()) is not None
    if not plain or implied is not None or tag not in SPLIT_DATASETS:
        return key
    return f"{key}_{split.strip().lower()}"


def named_split(dataset: str, root: str | Path | None, split: str | None) -> str | None:
    """The split that names dt eval's and dt analyze's default folder (`output_name`): `split` if given, else the
    split a root that is itself one split folder is (GOT-10k's val/ or test/, TrackingNet's TEST/ or TRAIN_k/): such a
    root is that split, as `--root TOP --split IT` reads it, and its results go to that split's folder
    (results/got10k_test); they went to results/got10k, the folder of the top root's default val split. A synth root
    of one's own sequences (no synth.json, no split in it) is named by its folder (`own_set_name`:
    results/synth_<folder>): two such sets shared results/synth, where one's results mixed with the other's, or were
    refused beside them."""
    from droptrack.errors import DropTrackError

    if split is not None:
        return split
    try:
        tag, implied = canonical(dataset)
        path = resolve_root(tag, root) if implied is None and tag in ("got10k", "trackingnet", "synth") else None
    except DropTrackError:
        return None
    if path is None or not path.is_dir():
        return None
    if tag == "synth":
        own = not any((path / m).is_file() for m in SET_MARKERS) and read_split(dataset, root, None) is None
        return own_set_name(path) if own else None
    if tag == "got10k":
        from droptrack.data.got10k import folder_split

        return folder_split(path, "val")
    from droptrack.data.trackingnet import own_chunk

    return own_chunk(path)


def own_root(dataset: str, root: str | Path | None) -> str | None:
    """The resolved root of one's own footage (--dataset folder or video), for eval.json: its names (cam1, clip) are
    one's own, so results of two roots in one results folder were taken for each other's; None for a benchmark (its
    sequences, fingerprinted, may be moved and resumed) or a root that is not there (its reader says so)."""
    from droptrack.errors import DropTrackError

    try:
        tag = canonical(dataset)[0]
        return os.path.realpath(resolve_root(tag, root)) if tag in ("folder", "video") else None
    except DropTrackError:
        return None


def own_set_name(path: Path) -> str:
    """The name a synth root of one's own sequences gives its default folders: its folder's name in lower-case
    letters, digits and '_' (`output_name` takes only those), or a digest of the name where none is left."""
    import hashlib
    import re

    name = Path(os.path.realpath(path)).name
    plain = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return plain or hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def read_split(dataset: str, root: str | Path | None, split: str | None) -> str | None:
    """The split of its dataset that `get_sequences` reads (the reader's default where `split` is None; a split
    folder given as the root is its own split), as dt eval records it: results of two splits in one folder replace
    each other's submission and report. None where the dataset has one set, or where it cannot tell (a synthetic
    root that is one set; a missing root, left to the reader)."""
    from droptrack.errors import DropTrackError

    try:
        tag, implied = canonical(dataset)
        path = resolve_root(tag, root) if tag in ("got10k", "synth", "trackingnet") else None
    except DropTrackError:
        return None
    given = (split or implied or "").strip().lower() or None
    if tag == "got10k":
        from droptrack.data.got10k import VOT_SPLITS, folder_split

        own = given or (folder_split(path, "val") if path.is_dir() else None) or "val"
        return "train" if own in VOT_SPLITS else own   # the training recipe's subsets of the train split
    if tag == "synth":   # a set's own folder (sset/val, sset/train): the split its synth.json says, so that results
        return given or ("val" if (path / "val").is_dir() and not (path / "list.txt").is_file() else   # of two
                         "train" if (path / "train").is_dir() else made_split(path))   # sets' splits do not mix
    if tag == "trackingnet":
        from droptrack.data.trackingnet import own_chunk

        own = given or (own_chunk(path) if path.is_dir() else None) or "test"
        return "test" if own.lower() == "test" else "train"   # TRAIN_0 ... TRAIN_11: chunks of the train split
    if tag in ("lasot", "coco"):
        return given or ("test" if tag == "lasot" else "train")
    return None


def get_sequences(dataset: str, root: str | Path | None = None, split: str | None = None,
                  names: list[str] | None = None, how: str | None = "--root DIR") -> list[Sequence]:
    """Sequences of `dataset` (a tag in DATASETS or an alias), lazily: GT is read, images are not decoded (`how`:
    the caller's way to give a root, named when there is none)."""
    tag, implied = canonical(dataset)
    path = resolve_root(tag, root, how)
    if tag not in ("video",) and not path.is_dir():
        from droptrack.videofiles import VIDEO_EXTS

        video = path.is_file() and path.suffix.lower() in VIDEO_EXTS   # one clip, where a dataset's folder goes
        hint = ""   # the way to read the clip as it was given: dt train's --data reads no video (it named --dataset)
        if video and how == "--root DIR":
            hint = f", or score this video with --dataset video (its x,y,w,h boxes in {path.stem}.txt beside it)"
        elif video and how is not None and how.startswith("--calib "):
            hint = f", or calibrate on this video with --calib {path}"
        raise DatasetError(f"{tag} root {path} is not a folder; point it at the dataset's top folder{hint}")
    module, func = DATASETS[tag].reader.split(":")
    reader = getattr(importlib.import_module(module), func)
    if tag in _TAKES_TAG:
        return reader(path, split or implied, names, dataset=tag)
    return reader(path, split or implied, names)
