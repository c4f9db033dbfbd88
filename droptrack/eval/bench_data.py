"""The frames `dt bench` runs every artifact on: the synthetic benchmark, a named dataset, a video or a folder.

`load_bench_data(spec, ...)` -> BenchData (sequences, tag, how the ground truth is obtained). `--sequences N` keeps
the first N sequences and `--frames M` the first M frames of each. A video or image folder without ground truth beyond the
first frame is scored against the reference tracker's boxes (`with_reference_gt`); a benchmark's test split (GT
only on the first frame) is not scored (AUC not measured; parity with the reference still is).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from droptrack.data.sequence import has_gt
from droptrack.errors import DatasetError, InputError, shell_quote
from droptrack.geometry import validate_init_box
from droptrack.videofiles import VIDEO_EXTS

SYNTHETIC = ("synthetic", "synth")
SYNTH_SIZE = (320, 240)
SYNTH_SEED = 0
SYNTH_MAX_SEQUENCES = 200   # GOT-10k's val split has 180
SYNTH_MAX_FRAMES = 1000     # 200 x 1000 frames of 320x240 are ~3 GB of JPEGs
VIDEO_SUFFIXES = VIDEO_EXTS


@dataclass
class BenchData:
    """Sequences to run, their dataset tag, and where the ground truth comes from."""

    kind: str                      # 'synthetic' | 'dataset' | 'video' | 'folder'
    name: str                      # what the user passed (dataset name or path)
    root: str | None
    tag: str
    sequences: list[Any]
    ground_truth: str = "dataset"  # 'dataset' | 'reference' (the reference tracker's boxes) | 'none' (test split)
    split: str | None = None       # a synthetic set's split (its synth.json); None for other data

    @property
    def training_photos(self) -> bool:
        """Whether the frames are a synthetic train set: droptrack's synthetic models learnt from its photos."""
        return self.split == "train"

    def split_note(self, models: list[str], trackers: list[str]) -> str | None:
        """A line when the scores of the rows that were scored (`models`: the model rows' names, `trackers`: the
        OpenCV trackers') are on training photos, naming how to make a held-out set; None without such rows."""
        return train_split_note(self.name, models, trackers) if self.training_photos and models + trackers else None

    @property
    def one_source(self) -> bool:
        """--data is one folder of frames (images in it, not in sequence folders under it): dt run's SOURCE."""
        frames = getattr(self.sequences[0], "frames", None) if len(self.sequences) == 1 else None
        if self.kind != "folder" or frames is None or not len(frames):
            return False
        return os.path.realpath(Path(frames[0]).parent) == os.path.realpath(os.path.expanduser(self.name))

    @property
    def n_frames(self) -> int:
        return sum(len(s) for s in self.sequences)

    def to_dict(self) -> dict[str, Any]:
        """JSON part of bench.json ('data')."""
        return {"kind": self.kind, "name": self.name, "root": self.root, "tag": self.tag,
                "ground_truth": self.ground_truth, "n_sequences": len(self.sequences), "n_frames": self.n_frames,
                "sequences": {s.name: len(s) for s in self.sequences}, "split": self.split,
                "training_photos": self.training_photos}


def synth_split(folder: str | Path) -> str | None:
    """The split a synthetic set was made for, from its synth.json (None: not a synthetic set, or unreadable)."""
    import json

    try:
        split = json.loads((Path(folder) / "synth.json").read_text()).get("split")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return split if isinstance(split, str) else None


def eval_split_note(dataset: str, root: str | Path | None, split: str | None, model: str | None = None,
                    classic: bool = False) -> str | None:
    """train_split_note for `dt eval --dataset synth` when the set it reads (as the synth reader picks it: --split,
    else val/ when the root has one, else the root's own set) is of the train split; None otherwise. `model`: the
    -m file or --tracker name that was scored (None: the default model); `classic`: it is an OpenCV tracker."""
    from droptrack.data.registry import canonical, resolve_root
    from droptrack.errors import DropTrackError

    try:
        tag, implied = canonical(dataset)
        path = resolve_root(tag, root, None) if tag == "synth" else None
    except DropTrackError:
        return None
    if path is None:
        return None
    split = (split or implied or ("val" if (path / "val").is_dir() and not (path / "list.txt").is_file()
                                  else "train")).lower()
    folder = path / split if (path / split / "synth.json").is_file() else path
    if synth_split(folder) != "train":
        return None
    return train_split_note(str(folder), [model] if model and not classic else [], [model] if classic else [])


def train_split_note(name: str, models: list[str] | tuple = (), trackers: list[str] | tuple = ()) -> str:
    """The note for scores measured on a synthetic train set (`dt data synth` makes one by default), naming the
    models scored (dt eval's -m file, dt bench's rows): none is the default model, trained on such photos; another
    file may have been trained or fine-tuned on them or not; OpenCV `trackers` learn nothing from them."""
    def listed(names, last):   # 'a', 'a or b', 'a, b or c'
        return f"{', '.join(names[:-1])} {last} {names[-1]}" if len(names) > 1 else names[0]

    learn = f" ({listed(trackers, 'and')} learn{'s' * (len(trackers) == 1)} nothing from them)" if trackers else ""
    if models:
        which = listed(models, "or")
        these = "these scores are" if len(models) == 1 and not trackers else "its scores are"
        why = (f"the default model was trained on its photos{learn}: if {which} was trained or fine-tuned on such a "
               f"set, {these} on training photos, not held-out ones")
    elif trackers:
        why = (f"the default model was trained on its photos{learn}, so a model's scores here are on training photos, "
               "not held-out ones")
    else:
        why = "the default model was trained on its photos, so these scores are on training photos, not held-out ones"
    return (f"{name} is a synthetic set of the train split: {why}; for a held-out set run "
            "dt data synth OUT --split val (or --split test with --attributes all)")


def _truncate(seq: Any, frames: int | None) -> Any:
    """The first `frames` frames of a sequence (unchanged when it is shorter)."""
    if frames is None or len(seq) <= frames:
        return seq
    cut = {k: (v[:frames] if v is not None else None) for k, v in
           (("frames", seq.frames), ("boxes", seq.boxes), ("visible", seq.visible), ("cover", seq.cover))}
    return dataclasses.replace(seq, **cut)


def check_init(text: str | None, spec: str) -> None:
    """--init checked before any model loads: a box, and refused outright for the synthetic set, whose sequences
    all have their first-frame box (both were refused only after every artifact had loaded)."""
    box = _parse_box(text) if text is not None else None   # a bad box: its own one line
    if box is not None and data_kind(spec) == "synthetic":
        raise InputError(f"--data {spec} has its own first-frame boxes; drop --init (it is only for a video or "
                         "folder without ground truth)")


def _parse_box(text: str) -> list[float]:
    """--init as dt run reads it (commas and/or spaces; its errors say what is wrong: a count, a word), w and h > 0."""
    from droptrack.geometry import parse_box

    vals = parse_box(text)
    if not (vals[2] > 0 and vals[3] > 0):   # NaN too
        raise InputError(f"--init {text!r} has a width or height of {min(vals[2:], key=lambda v: v > 0):g}; pass "
                         "--init x,y,w,h with w, h > 0")
    return vals


def _apply_init(seqs: list[Any], init: str | None, fix: str = "pass --init x,y,w,h") -> list[Any]:
    """Set the init box of sequences that have none (videos/folders without GT); every sequence needs one (`fix`:
    how the caller gives one)."""
    if init is not None:
        box = _parse_box(init)
        out = []
        for s in seqs:
            if np.isfinite(s.boxes[0]).all():
                raise InputError(f"{s.name} has its own first-frame box; drop --init (it is only for data without "
                                 "ground truth)")
            boxes = s.boxes.copy()
            boxes[0] = box
            try:   # as dt run: it was a failed row after the reference, advising to fix an annotation file
                validate_init_box(box, s.frame(0).shape[:2])
            except InputError as exc:
                raise InputError(f"--init {init}: {exc}") from None
            out.append(dataclasses.replace(s, boxes=boxes))
        seqs = out
    missing = next((s.name for s in seqs if not np.isfinite(s.boxes[0]).all()), None)
    if missing is not None:
        raise InputError(f"{missing} has no ground truth (not even a first-frame box); {fix}")
    return seqs


def _read(spec: str, root: str | None, output_dir: Path, sequences: int | None,
          frames: int | None, how: str | None = "--root DIR") -> tuple[str, str, list[Any]]:
    """(kind, tag, sequences) for the --data spec."""
    from droptrack.data import get_sequences
    from droptrack.data.registry import canonical

    if spec.lower() in SYNTHETIC:
        from droptrack.data.synth import MARKER, ensure_synth, synth_mismatch

        n, m = sequences or 8, frames or 40
        folder = Path(root) if root else synth_cache(output_dir, sequences, frames)
        why = synth_mismatch(folder, n, m, SYNTH_SEED, SYNTH_SIZE, "val") if root else None
        if why is not None and os.path.isfile(folder / MARKER):   # a set made by other means: never replaced
            data = shell_quote(folder.absolute())
            raise InputError(f"--root {root} holds another synthetic set ({why}); bench it as it is with --data "
                             f"{data}, or pass another --root to cache the {n}x{m} set in")
        if why is not None:   # the set is made there: a writable folder (a complete one is only read)
            from droptrack.paths import check_output_dir

            check_output_dir("--root", folder)
        ensure_synth(folder, n, m, SYNTH_SEED, SYNTH_SIZE, split="val", progress=True)
        return "synthetic", "synth", get_sequences("synth", folder, split="val")
    path, kind = Path(spec).expanduser(), data_kind(spec, root=root)
    if kind == "video":
        return "video", "video", get_sequences("video", path)
    if kind == "folder":
        if (path / "synth.json").is_file():
            return "folder", "synth", get_sequences("synth", path, split="val")
        if (path / "list.txt").is_file():
            return "folder", "got10k", get_sequences("got10k", path)   # a split folder: read as the split it is
        if how is None:   # dt export --val: no --root to read clips by, only the environment variable
            from droptrack.data.folder import clips_only

            clips_only(path, f"--val video, with DT_DATA_VIDEO={shell_quote(path)} set (dt export takes no --root)")
        return "folder", "folder", get_sequences("folder", path)
    return "dataset", canonical(spec)[0], get_sequences(spec, root=root, how=how)


def synth_cache(output_dir: str | Path, sequences: int | None, frames: int | None) -> Path:
    """Where `--data synthetic` without --root makes its set: in the output folder, named by its size."""
    return Path(output_dir) / f"synth_val_{sequences or 8}x{frames or 40}"


def more_sequences(data: BenchData, sequences: int | None) -> str:
    """How to bench more sequences, for the notes on a set too small for its gates: --sequences makes the synthetic
    set larger and keeps more of a set it cut, but a video or one frame folder is one sequence whatever it says."""
    if data.kind == "synthetic":
        return "a larger --sequences"
    if data.kind != "video" and sequences is not None and len(data.sequences) >= sequences:   # maybe cut by it
        return "a larger --sequences where --data holds more, or --data with a dataset"
    return "--data with a dataset, a folder of sequence folders, or synthetic"


def check_synth_size(sequences: int | None, frames: int | None) -> None:
    """A synthetic set `dt bench` / `dt demo` would generate stays within sane limits (one-line error naming the
    option; None: not given)."""
    from droptrack.config_rules import Rule, check_value

    for option, value, hi in (("--sequences", sequences, SYNTH_MAX_SEQUENCES), ("--frames", frames, SYNTH_MAX_FRAMES)):
        if value is not None:
            check_value(option, value, Rule(int, hi=hi))


def check_cut(sequences: int | None, frames: int | None) -> None:
    """--sequences N >= 1 and --frames M >= 2 (init + one tracked frame), for every kind of data (None: not given)."""
    for opt, v, lo in (("--sequences", sequences, 1), ("--frames", frames, 2)):
        if v is not None and v < lo:
            raise InputError(f"{opt} {v} is too small; use at least {lo}")


def data_kind(spec: str, option: str = "--data", root: str | Path | None = None) -> str:
    """'synthetic', 'video', 'folder' or 'dataset' for a --data spec (nothing is read); anything else is a one-line
    error naming `option`. A dataset name given with a --root is the dataset, also where a folder of that name lies
    in the working folder (`--data lasot --root lasot` run beside the LaSOT root: it was read as a folder of images,
    and --root refused); `./lasot` names the folder."""
    from droptrack.data.registry import DATASETS, canonical

    if spec.lower() in SYNTHETIC:
        return "synthetic"
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return "video"
    if root is not None and _dataset_name(spec):
        return "dataset"
    if path.is_dir():
        check_not_output_folder(path, spec, option)
        return "folder"
    if path.exists():
        raise InputError(f"{option} {spec}: not a video ({', '.join(VIDEO_SUFFIXES)}), folder or dataset name")
    try:
        canonical(spec)
    except DatasetError:
        raise DatasetError(f"{option} {spec!r} is not 'synthetic', an existing video or folder, or a dataset name "
                           f"({', '.join(DATASETS)})") from None
    return "dataset"


def _dataset_name(spec: str) -> bool:
    """`spec` is a bare dataset name (no folder part), as dt eval's --dataset takes it."""
    from droptrack.data.registry import canonical

    if "/" in spec or os.sep in spec:
        return False
    try:
        canonical(spec)
    except DatasetError:
        return False
    return True


OUTPUT_MARKERS = ("bench.json", "eval.json", "report.json")   # what dt bench, dt eval and dt analyze write


def check_not_output_folder(path: Path, spec: str, option: str = "--data") -> None:
    """Refuse a folder that is droptrack's own output (a bench, eval results or analysis folder, or one holding such
    folders, as OUTPUT/results): its PNG plots were read as frames (one line, the fix)."""
    found = next((path / m for m in OUTPUT_MARKERS if (path / m).is_file()), None)
    if found is None:
        try:
            subs = [d for d in sorted(path.iterdir()) if d.is_dir() and not d.name.startswith(".")]
        except OSError:   # an unreadable folder: the reader names it
            subs = []
        found = next((d / m for d in subs for m in OUTPUT_MARKERS if (d / m).is_file()), None)
    if found is not None:
        raise InputError(f"{option} {spec} is droptrack's own output ({found} is there), not frames to track; pass "
                         "the video or frame folder it was made from")


def check_output_outside_data(output_dir: str | Path, spec: str, root: str | None) -> None:
    """--output outside the --data folder, the dataset or synthetic --root, and any other dataset folder (as dt
    eval's): its results and plots would be read as sequences by the next run on that data."""
    from droptrack.data.registry import check_output_outside_datasets, check_output_outside_root
    from droptrack.paths import check_not_inside

    kind = data_kind(spec, root=root)
    if kind == "folder":
        check_not_inside("--output", output_dir, spec, "--data folder")
    elif kind == "dataset":
        check_output_outside_root(output_dir, spec, root)
    elif root is not None:   # synthetic: the set is made there (maybe not yet) or read from there
        out, base = (Path(os.path.realpath(os.path.expanduser(str(p)))) for p in (output_dir, root))
        if out == base or base in out.parents:
            raise InputError(f"--output '{output_dir}' is inside the --root folder '{root}', which holds the "
                             "synthetic set (results there would be read as its sequences); pass an output folder "
                             "outside it")
    check_output_outside_datasets("--output", output_dir)


def load_bench_data(spec: str, root: str | None, output_dir: Path, sequences: int | None = None,
                    frames: int | None = None, init: str | None = None, how: str | None = "--root DIR") -> BenchData:
    """Read, cut (--sequences / --frames) and check the benchmark frames (`how`: the caller's way to give a
    dataset's root, named when there is none; None where it has none, as dt export --val, which has no --init either:
    its clips need their own box files)."""
    check_cut(sequences, frames)
    kind, tag, seqs = _read(spec, root, output_dir, sequences, frames, how)
    seqs = [_truncate(s, frames) for s in (seqs[:sequences] if sequences else seqs)]
    if not seqs:
        raise DatasetError(f"--data {spec}: no sequences found; check the path/root and split")
    empty = next((s.name for s in seqs if len(s) == 0), None)
    if empty is not None:
        raise DatasetError(f"{empty} has no frames; pass another --data or leave it out")
    short = next((s.name for s in seqs if len(s) < 2), None)
    if short is not None:
        raise DatasetError(f"{short} has a single frame; tracking needs at least 2 (init + one tracked frame)")
    seqs = _apply_init(seqs, init, "pass --init x,y,w,h" if how is not None else "add its ground truth (e.g. "
                       "clip.txt beside clip.mp4, one x,y,w,h line per frame from the first) or pass a dataset")
    if init is not None or tag in OWN_FOOTAGE:   # an --init box, or one's own first box from a box file
        warn_flat_init(seqs)
    gt = "dataset" if any(has_gt(s) for s in seqs) else "reference" if tag in ("video", "folder") else "none"
    split = "val" if kind == "synthetic" else synth_split(Path(spec).expanduser()) if tag == "synth" else None
    return BenchData(kind, spec, None if root is None else str(root), _scoring_tag(tag), seqs, gt, split)


OWN_FOOTAGE = ("video", "folder")   # dataset tags of one's own clips and frame folders (a box file or --init)


def warn_flat_init(seqs: list[Any], command: str = "dt bench") -> None:
    """One FlatTargetWarning per sequence whose first box (--init, or the first row of one's own box file) lies on
    pixels of one colour (Megamind.avi opens on a black frame): every row would be benched (`command`: dt eval,
    scored) on tracking nothing, as dt run warns."""
    import warnings

    from droptrack.errors import DropTrackError, FlatTargetWarning
    from droptrack.runtime.checks import flat_target_note

    for s in seqs:
        fix = (f"{command} starts at the first frame: cut the frames before one that shows the target (a video: "
               "`ffmpeg -ss SECONDS -i IN -c:v mpeg4 -q:v 2 OUT.mp4`; a folder: move them out)")
        box = [float(v) for v in s.boxes[0]]
        if not (np.isfinite(box).all() and box[2] > 0 and box[3] > 0):   # no first box: refused with its reason later
            continue
        try:
            with warnings.catch_warnings():   # the file's own warnings (a rotation, ...): the tracking pass gives them,
                warnings.simplefilter("ignore")   # once per file (dt eval tracks in worker processes)
                image = s.frame(0)
        except DropTrackError:   # a damaged first frame: the tracking pass reports it as it does without this check
            continue
        note = flat_target_note(image, [box], 0, fix) if image is not None else None
        if note:
            warnings.warn(f"{s.name}: {note}", FlatTargetWarning, stacklevel=2)


def _scoring_tag(tag: str) -> str:
    """The dataset tag dt eval scores with ('generic' for sources without benchmark rules, e.g. folders)."""
    from droptrack.eval.metrics import OPE_TAGS

    return tag if tag in OPE_TAGS or tag.startswith(("got10k", "trackingnet")) else "generic"


def with_reference_gt(data: BenchData, boxes: dict[str, np.ndarray]) -> list[Any]:
    """Sequences whose ground truth is the reference tracker's boxes as its result files hold them (integers)."""
    out = []
    for s in data.sequences:
        gt = np.trunc(np.asarray(boxes[s.name], dtype=np.float64))
        gt[0] = s.boxes[0]
        out.append(dataclasses.replace(s, boxes=gt, visible=None, cover=None))
    return out
