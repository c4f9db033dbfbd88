"""Synthetic real-photo benchmark in the GOT-10k layout: `generate_synth`, and `ensure_synth` that reuses a set.

OUT/list.txt, OUT/<seq>/{00000001.jpg.., groundtruth.txt, absence.label, cover.label, cut_by_image.label,
meta_info.ini}, and OUT/synth.json written last (the completeness marker, with the parameters and photos used).
Read it back with `get_sequences('synth', OUT)`. See `synth_render` for the scene model and the GT convention.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from droptrack import filelock
from droptrack.artifact import atomic_write_bytes, atomic_write_json, atomic_write_text
from droptrack.data.synth_journal import PROGRESS, check_stopped_set, file_text, resumable
from droptrack.data.synth_hard import (DIFFICULTIES, HARD_SOURCES, check_attributes, choose_attributes,
                                       parse_attributes, plan_hard)
from droptrack.data.synth_render import ASPECT_LOG, TRAIN_PHOTOS, VAL_PHOTOS, SynthSequence, plan_sequence, render
from droptrack.data.synth_progress import SynthProgress
from droptrack.errors import DatasetError, InputError

MARKER = "synth.json"
MARKER_KEYS = {"version", "sequences", "frames", "seed", "split"}   # in every generator version's marker
LOCK = ".synth.lock"   # held while a run writes the set (droptrack.filelock)
SYNTH_VERSION = 2  # 2: more training sources, restyled training photos (val sets unchanged)
HARD_VERSION = 3  # sets made with --attributes: hard attributes, tags, extended sources, a test split
SPLIT_PHOTOS = {"train": TRAIN_PHOTOS, "val": VAL_PHOTOS}
SPLITS = ("train", "val", "test")
DEFAULT_GRAY = 0.3  # probability that a training photo is turned gray
_OWN_NAME = re.compile(r"synth_(train|val|test)_\d{5,}")   # the sequence folders a set holds


def parse_size(text: str) -> tuple[int, int]:
    """'320x240' -> (320, 240)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise InputError(f"size {text!r} is not WxH; pass e.g. --size 320x240")
    return int(m.group(1)), int(m.group(2))


MAX_SEQUENCES = 99_999


def _check(sequences: int, frames: int, size: tuple[int, int], split: str, ext: str, gray: float,
           attributes: tuple[str, ...] = (), aspect_max: float | None = None, difficulty: str = "hard",
           seed: int = 0) -> None:
    """Validate generation options with fix-it messages."""
    if seed < 0:   # numpy's generators take non-negative seeds only (it was a ValueError traceback)
        raise InputError(f"--seed {seed} must be 0 or more (the same seed gives the same files)")
    if sequences < 1 or frames < 2:
        raise InputError(f"need at least 1 sequence of 2 frames (got {sequences} x {frames}); raise --sequences "
                         "or --frames")
    if sequences > MAX_SEQUENCES:   # the names' five digits; 1e20 built a list of names until memory ran out
        raise InputError(f"--sequences {sequences} is more than {MAX_SEQUENCES} (the sequences' names have 5 digits); "
                         "make several sets with other --seed values")
    if min(size) < 64 or max(size) > 4096:
        raise InputError(f"size {size[0]}x{size[1]} out of range; use sides between 64 and 4096, e.g. 320x240")
    if split not in SPLITS:
        raise InputError(f"split {split!r} unknown; use --split train, val or test")
    if split == "test" and not attributes:
        raise InputError("--split test exists only for hard sets; add --attributes all (or a list of attributes)")
    if not 0.0 <= gray <= 0.7:
        raise InputError(f"--gray {gray} out of range; give a probability between 0 and 0.7")
    if gray != DEFAULT_GRAY and split != "train":
        raise InputError("--gray only restyles training photos; drop it for --split val")
    if aspect_max is not None:
        if split != "train":
            raise InputError("--aspect-max only widens training targets; drop it for --split val or test")
        if not 1.0 <= aspect_max <= 8.0:
            raise InputError(f"--aspect-max {aspect_max} out of range; give the widest w:h (or h:w) ratio, "
                             "between 1 and 8, e.g. 4")
    if difficulty not in DIFFICULTIES:
        raise InputError(f"--difficulty {difficulty!r} unknown; use {' or '.join(DIFFICULTIES)}")
    if difficulty != "hard" and not attributes:
        raise InputError(f"--difficulty {difficulty} sets how hard attributes are; add --attributes all (or a list)")
    if ext not in ("jpg", "png"):
        raise InputError(f"image extension {ext!r} unsupported; use --ext jpg or --ext png")
    check_attributes(attributes, size, frames)
    need, have = frames * size[0] * size[1] * 3, _memory_bytes()
    if have and need > have:   # a sequence is rendered whole in memory: the run would end killed for memory
        raise InputError(f"one sequence of {frames} frames at {size[0]}x{size[1]} needs {need / 2**30:.1f} GiB of "
                         f"memory while it is rendered, more than this machine's {have / 2**30:.1f} GiB; lower "
                         "--frames or --size")


def _memory_bytes() -> int:
    """This machine's physical memory in bytes (0 where the OS does not say)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def synth_sequence(index: int, frames: int, seed: int, size: tuple[int, int] = (320, 240), split: str = "train",
                   cache: dict | None = None, draw_target: bool = True, keep_masks: bool = False,
                   gray: float = DEFAULT_GRAY, attributes: tuple[str, ...] = (),
                   photos: tuple[str, ...] | None = None, aspect_max: float | None = None,
                   difficulty: str = "hard", on_frame: Callable[[int], None] | None = None) -> SynthSequence:
    """Sequence `index` of a set, in memory (deterministic in seed, index, split, attributes, difficulty and, for
    train, gray and aspect_max); `photos` overrides the split's sources (tests use scikit-image photos when opencv-doc
    is absent); `aspect_max` widens the target's aspect range to 1:aspect_max..aspect_max:1 (None: the version-2
    range); `difficulty` (a DIFFICULTIES key) sets how many attributes stack and how strong they are; `on_frame` is
    called with each frame's 1-based index once it is rendered (progress)."""
    aspect_log = ASPECT_LOG if aspect_max is None else math.log(aspect_max)
    key = [seed, index, SPLITS.index(split)]
    restyle_rng = np.random.default_rng(key + [1]) if split == "train" else None
    if attributes:
        strength = DIFFICULTIES[difficulty]
        tags = choose_attributes(np.random.default_rng(key + [3]), attributes, index, split, strength)
        plan = plan_hard(np.random.default_rng(key + [2]), frames, size, photos or HARD_SOURCES[split],
                         {} if cache is None else cache, tags, restyle_rng, gray, aspect_log, strength)
        seq = render(plan, size, draw_target=draw_target, keep_masks=keep_masks, on_frame=on_frame)
        seq.tags = tags
        return seq
    plan = plan_sequence(np.random.default_rng(key), frames, size, SPLIT_PHOTOS[split], {} if cache is None else cache,
                         restyle_rng, gray, aspect_log)
    return render(plan, size, draw_target=draw_target, keep_masks=keep_masks, on_frame=on_frame)


def _write_sequence(folder: Path, seq: SynthSequence, ext: str, on_frame: Callable[[int], None] | None = None) -> None:
    """Frames and GOT-10k label files of one sequence (`on_frame(i)` after frame i is written: progress)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    for i, rgb in enumerate(seq.frames, 1):
        ok, buf = cv2.imencode(f".{ext}", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise DatasetError(f"OpenCV could not encode {ext}; reinstall opencv-python-headless or use --ext png")
        atomic_write_bytes(folder / f"{i:08d}.{ext}", buf.tobytes())
        if on_frame is not None:
            on_frame(i)
    rows = "".join(f"{x:.4f},{y:.4f},{w:.4f},{h:.4f}\n" for x, y, w, h in seq.boxes)
    atomic_write_text(folder / "groundtruth.txt", rows)
    for name, arr in (("absence", seq.absence), ("cover", seq.cover), ("cut_by_image", seq.cut)):
        atomic_write_text(folder / f"{name}.label", "".join(f"{int(v)}\n" for v in arr))
    stem = Path(seq.photos["target"]).stem
    if seq.tags is not None:
        atomic_write_text(folder / "attributes.txt", "".join(f"{t}\n" for t in seq.tags))
    atomic_write_text(folder / "meta_info.ini", "[METAINFO]\n" + f"object_class: {stem}\n" + "".join(
        f"{role}_photo: {p}\n" for role, p in seq.photos.items()))


def _params(sequences: int, frames: int, seed: int, size: tuple[int, int], split: str, ext: str,
            gray: float = DEFAULT_GRAY, attributes: tuple[str, ...] = (), aspect_max: float | None = None,
            difficulty: str = "hard") -> dict:
    """The parameters a marker must match for a set to be reused."""
    out = {"version": HARD_VERSION if attributes else SYNTH_VERSION, "sequences": sequences, "frames": frames,
           "seed": seed, "size": [int(size[0]), int(size[1])], "split": split, "ext": ext}
    if attributes:
        out["attributes"] = list(attributes)
    if aspect_max is not None:
        out["aspect_max"] = aspect_max
    if difficulty != "hard":
        out["difficulty"] = difficulty
    return {**out, "gray": gray} if split == "train" else out


def is_synth_sequence_name(name: str) -> bool:
    """Whether `name` is a sequence folder name the generator writes (synth_<split>_NNNNN)."""
    return _OWN_NAME.fullmatch(name) is not None


def generate_synth(out: str | Path, sequences: int = 8, frames: int = 40, seed: int = 0,
                   size: tuple[int, int] = (320, 240), split: str = "train", ext: str = "jpg",
                   progress: bool = False, gray: float = DEFAULT_GRAY, attributes: str | tuple[str, ...] = (),
                   aspect_max: float | None = None, difficulty: str = "hard", overwrite: bool = False) -> Path:
    """Write a synthetic set to `out` (GOT-10k layout) and return `out`; the marker file is written last.
    The same complete set already there is kept as it is; a complete set made with other parameters is refused
    unless `overwrite` (then replaced, its extra sequences removed).
    `attributes` ('none', 'all', 'a,b' or a tuple) selects the hard attributes; each sequence's tags go to
    <seq>/attributes.txt; `difficulty` ('hard' or 'moderate') how many stack per sequence and how strong.
    A run killed part-way resumes when started again with the same parameters (PROGRESS lists what it wrote)."""
    attributes = parse_attributes(attributes) if isinstance(attributes, str) else tuple(attributes)
    _check(sequences, frames, size, split, ext, gray, attributes, aspect_max, difficulty, seed)
    if attributes:
        for name in HARD_SOURCES[split]:  # fail before writing anything when a source package is missing
            _source_exists(name)
    from droptrack.data.registry import dataset_folder
    from droptrack.paths import check_output_dir, removed_if_left_empty

    out = check_output_dir("OUT", out)
    inside = dataset_folder(out.parent)   # a set in another set's or a sequence's folder: read as part of it
    if inside is not None:
        raise InputError(f"OUT '{out}' is inside the dataset folder '{inside[0]}' (it holds {inside[1]}; a set written "
                         "there would be read as part of it); pass a folder outside it")
    _check_own_folder(out)
    params = _params(sequences, frames, seed, size, split, ext, gray, attributes, aspect_max, difficulty)
    names = [f"synth_{split}_{i + 1:05d}" for i in range(sequences)]
    if _kept_or_refused(out, params, overwrite) and (not _leftovers(out) or filelock.in_use(out / LOCK)):
        return out   # (a run still holding the lock removes its own leftovers)
    with removed_if_left_empty(out):   # stopped before it wrote anything: no new empty folder is left
        out.mkdir(parents=True, exist_ok=True)
        with filelock.held(out / LOCK, f"another dt data synth is writing to '{out}'; wait for it to finish or pass "
                                       "another folder"):
            for p in _leftovers(out):   # a killed run's temporaries; its journal only once its set is complete
                if p.name != LOCK and (p.name != PROGRESS or _kept_or_refused(out, params, overwrite)):
                    p.unlink(missing_ok=True)
            if not _kept_or_refused(out, params, overwrite):   # that other run may have just finished this very set
                _write_set(out, params, names, sequences, frames, seed, size, split, ext, progress, gray, attributes,
                           aspect_max, difficulty)
    return out


def _leftovers(out: Path) -> list[Path]:
    """What a run killed in `out` leaves beside the set: its lock file, its journal and the temporaries of its atomic
    writes (`.NAME.<random>.tmp`) of list.txt, the marker and the journal (a killed sequence's folder is redone)."""
    temps = [p for name in ("list.txt", MARKER, PROGRESS) for p in out.glob(f".{name}.*.tmp")]
    return [p for p in (out / LOCK, out / PROGRESS, *temps) if p.is_file()]


def _write_set(out: Path, params: dict, names: list[str], sequences: int, frames: int, seed: int,
               size: tuple[int, int], split: str, ext: str, progress: bool, gray: float, attributes: tuple[str, ...],
               aspect_max: float | None, difficulty: str) -> None:
    """Write the set's sequences (resuming a killed run's journal), then list.txt and, last, the marker."""
    photos = resumable(out, params, names)          # sequences an interrupted run with these parameters finished
    extras = sorted(p for p in out.iterdir() if p.is_dir() and _OWN_NAME.fullmatch(p.name) and p.name not in names)
    _check_replaceable([out / n for n in names if n not in photos and (out / n).is_dir()] + extras)
    (out / MARKER).unlink(missing_ok=True)
    atomic_write_text(out / PROGRESS, "".join(json.dumps(x) + "\n" for x in [params, *photos.items()]))
    cache: dict = {}
    with SynthProgress(progress and sequences * frames >= 200, sequences, frames, f"synth {split}") as bar, \
            open(out / PROGRESS, "a") as journal:
        for i, name in enumerate(names):
            if name not in photos:
                if (out / name).is_dir():   # an older set's or a killed run's: its frames beyond this set's would stay
                    shutil.rmtree(out / name)
                seq = synth_sequence(i, frames, seed, size, split, cache, gray=gray, attributes=attributes,
                                     aspect_max=aspect_max, difficulty=difficulty,
                                     on_frame=functools.partial(bar.step, name, "rendered"))
                _write_sequence(out / name, seq, ext, functools.partial(bar.step, name, "written"))
                photos[name] = seq.photos
                journal.write(json.dumps([name, seq.photos]) + "\n")   # one line per finished sequence
                journal.flush()
                bar.sequence_done(name)
            else:
                bar.sequence_done(name, resumed=True)
    for extra in extras:
        shutil.rmtree(extra)   # a replaced set's (or a killed run's) sequences beyond this set's
    atomic_write_text(out / "list.txt", "".join(f"{nm}\n" for nm in names))
    atomic_write_json(out / MARKER, {**params, "photos": {nm: photos[nm] for nm in names}})
    (out / PROGRESS).unlink(missing_ok=True)


_OWN_FILE = re.compile(r"\d{8}\.(jpg|png)|groundtruth\.txt|(absence|cover|cut_by_image)\.label|attributes\.txt|"
                       r"meta_info\.ini|\..+\.tmp")   # what _write_sequence writes (and its temporaries)


def _check_replaceable(folders: list[Path]) -> None:
    """Refuse, before anything is removed, to replace sequence folders that hold a file the generator does not
    write (--overwrite removed a user's notes in a sequence folder with the rest of it)."""
    for folder in folders:
        for p in sorted(folder.iterdir()):
            if not (p.is_file() and _OWN_FILE.fullmatch(p.name)):
                raise InputError(f"'{folder}' holds '{p.name}', which dt data synth did not write, and writing the set "
                                 "replaces that sequence folder; move it out of the folder, or pass another folder")


def _marker(out: str | Path) -> dict | None:
    """`out`'s synth.json as the generator writes it (its settings and photos), or None: none, unreadable, or a
    synth.json of another tool (or a user's), which is not taken for a set (nor replaced: `_check_own_folder`)."""
    try:
        meta = json.loads(file_text(Path(out) / MARKER))
    except (OSError, ValueError, RecursionError):
        return None
    return meta if isinstance(meta, dict) and MARKER_KEYS <= meta.keys() else None


def _marker_differences(out: str | Path, params: dict) -> list[str] | None:
    """How the complete set in `out` differs from `params` ('seed 1, not 2', ...; [] = the same set), or None when
    `out` holds no complete set (no marker of the generator's)."""
    meta = _marker(out)
    if meta is None:
        return None
    return [f"{k} {meta.get(k)}, not {v}" for k, v in params.items() if meta.get(k) != v]


def _kept_or_refused(out: Path, params: dict, overwrite: bool) -> bool:
    """True when `out` already holds the complete set these parameters make (nothing to write); a complete set
    made with other parameters is an InputError unless `overwrite`."""
    differ = _marker_differences(out, params)
    if differ is None:   # no complete set: one stopped part-way with other settings is refused as a complete one is
        check_stopped_set(out, params, overwrite)
        return False
    if not differ:   # one with a frame lost since (a copy cut short by a full disk) is written again
        return _lost_file(out, params) is None
    if not overwrite:
        raise InputError(f"'{out}' holds a complete synthetic set made with other settings ({'; '.join(differ)}); "
                         "pass another folder, or --overwrite to replace it")
    return False


def _lost_file(out: Path, params: dict) -> Path | None:
    """The first frame or groundtruth.txt of the complete set in `out` that is missing or empty, or None: such a set
    was kept as complete, and every reader then failed on that file, told to download it again."""
    for i in range(params["sequences"]):
        seq = out / f"synth_{params['split']}_{i + 1:05d}"
        for f in (*(seq / f"{k:08d}.{params['ext']}" for k in range(1, params["frames"] + 1)), seq / "groundtruth.txt"):
            try:
                if f.stat().st_size == 0:
                    return f
            except OSError:
                return f
    return None


def _source_exists(name: str) -> None:
    """Raise the install hint when a source photo's package is missing."""
    from droptrack.data.synth_render import photo_source

    if "@" not in name:
        path, owner = photo_source(name)
        if not path.is_file():
            raise DatasetError(f"photo {path} is missing from {owner}; install {owner}")


def _check_own_folder(out: Path) -> None:
    """Refuse a folder holding anything but a synthetic set (maybe one a killed run left without its marker)."""
    for name in ("list.txt", MARKER, PROGRESS):   # a named pipe there: writing or reading it would never end
        if os.path.lexists(out / name) and not (out / name).is_file():
            raise InputError(f"'{out / name}' is not a file (a folder, named pipe or broken link) where the set keeps "
                             "its own file of that name; move it away, or pass an empty or new folder")
    if not out.is_dir() or _marker(out) is not None:
        return
    for p in sorted(out.iterdir()):
        if p.name == "list.txt":
            own = all(_OWN_NAME.fullmatch(n) for n in file_text(p, "replace").split())   # a file: checked above
        else:
            own = p.name.startswith(".") or (p.is_dir() and _OWN_NAME.fullmatch(p.name) is not None)
        if not own:
            raise InputError(f"'{out}' holds '{p.name}', which is not part of a synthetic set, and writing a set "
                             "there would overwrite its files; pass an empty or new folder")


def synth_settings(out: str | Path) -> dict | None:
    """The settings of the set in `out`, complete (its marker) or part-written by a killed run (its journal's first
    line); None when `out` holds neither (tells a set the generator wrote from other folders)."""
    meta = _marker(out)
    if meta is not None:
        return meta
    try:
        meta = json.loads(file_text(Path(out) / PROGRESS).split("\n", 1)[0])
    except (OSError, ValueError, RecursionError):
        return None
    return meta if isinstance(meta, dict) else None


def synth_mismatch(out: str | Path, sequences: int, frames: int, seed: int, size: tuple[int, int], split: str,
                   ext: str = "jpg", attributes: tuple[str, ...] = (), difficulty: str = "hard") -> str | None:
    """Why the set in `out` is not the one these parameters make ('no complete synthetic set', 'frames 6, not 40'),
    or None (generator version included)."""
    differ = _marker_differences(out, _params(sequences, frames, seed, size, split, ext, attributes=attributes,
                                              difficulty=difficulty))
    if differ is None:
        return "no complete synthetic set"
    return differ[0] if differ else None


def ensure_synth(out: str | Path, sequences: int = 8, frames: int = 40, seed: int = 0,
                 size: tuple[int, int] = (320, 240), split: str = "train", ext: str = "jpg",
                 progress: bool = False) -> Path:
    """Reuse the set in `out` when its marker matches these parameters, else (re)generate it."""
    if synth_mismatch(out, sequences, frames, seed, size, split, ext) is None:
        return Path(out)
    return generate_synth(out, sequences, frames, seed, size, split, ext, progress, overwrite=True)
