"""Training data: dataset names of the config -> sequences, and a map-style dataset keyed by (epoch, index).

Every sample is drawn from its own RNG seeded by (seed, epoch, index), so the data is identical for any number
of workers or DDP ranks, and a resumed run sees exactly the samples an uninterrupted run would.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from droptrack.decodelog import first_damage
from droptrack.errors import ConfigError, DatasetError, DropTrackError, TrainingError
from droptrack.videofiles import VIDEO_EXTS
from droptrack.train.framesizes import check_pair_sizes
from droptrack.train.processing import InvalidSample, Processing
from droptrack.train.sampler import PairSampler

# official dataset names -> (reader, split); the GOT-10k vot splits are the official subsets of train
DATASET_READERS = {
    "LASOT": ("lasot", "train"), "GOT10K_vottrain": ("got10k", "vottrain"), "GOT10K_votval": ("got10k", "votval"),
    "GOT10K_train_full": ("got10k", "train"), "GOT10K_official_val": ("got10k", "val"),
    "COCO17": ("coco", "train"), "TRACKINGNET": ("trackingnet", "train"),
    "SYNTH": ("synth", "train"), "SYNTH_val": ("synth", None),
    "SYNTH_aux": ("synth", "train"),   # a second own-footage root: its own ratio (and DATA.TRAIN.BOX_WEIGHT)
}
OWN_ROOT_ONLY = ("SYNTH_aux",)   # names whose root is only their own --data NAME=DIR (the reader's belong to another)


def load_datasets(names: list[str], roots: dict[str, str]) -> list[list]:
    """Sequences for each config dataset name; roots from --data NAME=PATH, else the readers' env vars."""
    from droptrack.data import get_sequences

    out = []
    for name in names:
        check_known(name)
        reader, split = DATASET_READERS[name]
        root = roots.get(name) or roots.get(reader)
        out.append(get_sequences(reader, root=root, split=split, how=f"--data {name}=DIR"))
    return out


def check_known(name: str) -> None:
    """TrainingError for a DATA.TRAIN dataset name no reader reads, listing the names that are."""
    if name not in DATASET_READERS:
        raise TrainingError(f"unknown training dataset '{name}'; valid: {', '.join(DATASET_READERS)}")


def left_out_notes(names: list[str], ratios: list[float], roots: dict[str, str]) -> list[str]:
    """A note per sampled LaSOT training dataset whose root holds sequences its train split leaves out (the test
    split's, as the official recipe does, and names that are no LaSOT sequence): they were left out without a word."""
    from droptrack.data.lasot import left_out_of_train
    from droptrack.data.registry import resolve_root

    notes = []
    for name, ratio in zip(names, ratios):
        reader, split = DATASET_READERS[name]
        if reader == "lasot" and split == "train" and ratio > 0:
            said = left_out_of_train(resolve_root(reader, roots.get(name) or roots.get(reader)))
            notes += [f"note: training dataset {name}: {said}"] if said else []
    return notes


def resolved_roots(names: list[str], roots: dict[str, str]) -> dict[str, str]:
    """Real path of each config dataset's root, however it was given (--data NAME=PATH or the reader's name,
    DT_DATA_<NAME>, $DT_DATA/<dir>), as load_datasets reads it: what a resumed run compares. An unknown name or a
    missing root fails here as it would there, before any dataset is read."""
    from droptrack.data.registry import env_var, resolve_root

    out = {}
    for name in names:
        check_known(name)
        reader = DATASET_READERS[name][0]
        if name in OWN_ROOT_ONLY and not roots.get(name):   # DT_DATA_SYNTH is SYNTH's: it read that silently
            raise TrainingError(f"training dataset {name} reads only its own --data {name}=DIR (no environment "
                                f"variable: {env_var(reader)} and DT_DATA name {reader}'s roots); pass --data "
                                f"{name}=DIR, or remove {name} from DATA.TRAIN.DATASETS_NAME")
        root = resolve_root(reader, roots.get(name) or roots.get(reader), how=f"--data {name}=DIR")
        out[name] = os.path.realpath(root)
    return out


def check_distinct_roots(names: list[str], ratios: list[float], real: dict[str, str]) -> None:
    """TrainingError when two sampled datasets of one reader and split read the same folder (`real`: resolved_roots):
    SYNTH_aux without its own --data falls back to the reader's root, and would draw SYNTH's sequences under its own
    ratio and box weight."""
    first: dict = {}
    for name, ratio in zip(names, ratios):
        if ratio <= 0:
            continue
        key = (DATASET_READERS[name], real[name])
        if key in first:
            raise TrainingError(f"training datasets {first[key]} and {name} both read '{real[name]}' (a dataset "
                                f"without its own --data NAME=DIR reads its reader's root); pass --data {name}=DIR "
                                f"with its own folder, or remove {name} from DATA.TRAIN.DATASETS_NAME")
        first[key] = name


# what a training root holds, per reader (named when a root yields no sequence)
LAYOUTS = {"got10k": "train/ (or a split folder) with list.txt and <seq>/groundtruth.txt + 00000001.jpg ...",
           "synth": "<seq>/groundtruth.txt + 00000001.jpg ... (list.txt optional; one's own footage, or what dt data "
                    "synth writes)",
           "lasot": "<class>/<class>-N/groundtruth.txt + img/00000001.jpg ...",
           "trackingnet": "TRAIN_k/anno/<seq>.txt + TRAIN_k/frames/<seq>/0.jpg ...",
           "coco": "annotations/instances_train2017.json + train2017/"}


def check_nonempty(names: list[str], ratios: list[float], roots: dict[str, str], datasets: list[list]) -> None:
    """TrainingError naming the first sampled dataset whose root yields no sequence: its root (and where it came
    from), the layout expected there, and a sequence folder given as the root."""
    from droptrack.data import get_sequences
    from droptrack.data.lasot import present_names, test_names
    from droptrack.data.registry import env_var, resolve_root
    from droptrack.data.sequence import one_folder_down

    for name, ratio, seqs in zip(names, ratios, datasets):
        if ratio <= 0 or seqs:
            continue
        reader = DATASET_READERS[name][0]
        given = roots.get(name) or roots.get(reader)
        root = resolve_root(reader, given)
        origin = f"--data {name}={given}" if given else env_var(reader) if os.environ.get(env_var(reader)) \
            else "DT_DATA"
        if (root / "groundtruth.txt").is_file():
            raise TrainingError(f"training dataset {name}: '{root}' (from {origin}) is one sequence folder; pass the "
                                "folder above it (the one holding the sequence folders)")
        if (root.parent / "groundtruth.txt").is_file():   # a sequence's img/ folder
            raise TrainingError(f"training dataset {name}: '{root}' (from {origin}) is a folder inside the sequence "
                                f"'{root.parent}'; pass the dataset's root, which holds {LAYOUTS.get(reader)}")
        held = [s.name for s in get_sequences("lasot", root=root, split="all")] if reader == "lasot" and \
            root.is_dir() else []
        other = next((nm for nm in held if nm not in test_names()), None)
        if other is not None:   # LaSOT-extension's root given (atv-1, ...): not in the official train split
            raise TrainingError(f"training dataset {name}: none of the {len(held)} sequence(s) under '{root}' (from "
                                f"{origin}) is in LaSOT's official train split (such as {other}; the split is the "
                                "<class>-N of LaSOT's 70 classes, N = 1..20, outside the 280 test ones); pass the "
                                "LaSOT root, or remove LASOT from DATA.TRAIN.DATASETS_NAME")
        if held:   # e.g. a sample of a few sequences, or LaSOTTesting: the recipe trains on the others only
            raise TrainingError(f"training dataset {name}: the {len(held)} sequence(s) under '{root}' (from {origin}) "
                                "are all in LaSOT's 280-sequence test split, which training leaves out as the official "
                                "recipe does; add training sequences (the other <class>-N) or remove LASOT from "
                                "DATA.TRAIN.DATASETS_NAME")
        sub = one_folder_down(root, lambda d: bool(present_names(d))) if reader == "lasot" and root.is_dir() else None
        if sub is not None:   # LaSOTBenchmark/ of the archive, or the folder holding LaSOT/
            raise TrainingError(f"training dataset {name}: no sequences under '{root}' (from {origin}), but '{sub}' "
                                f"holds LaSOT's <class>/<class>-N/ folders; pass --data {name}={sub}")
        zips = sorted(p.name for p in root.glob("*.zip") if p.is_file()) if root.is_dir() else []
        if zips:   # LaSOT's class archives (airplane.zip ...), downloaded and not extracted
            raise TrainingError(f"training dataset {name}: no sequences under '{root}' (from {origin}), which holds "
                                f"{len(zips)} zip archive(s) ({', '.join(zips[:3])}{', ...' if len(zips) > 3 else ''})"
                                f"; extract them there: cd '{root}' && for z in *.zip; do unzip -q \"$z\"; done")
        videos = root.is_dir() and any(p.suffix.lower() in VIDEO_EXTS for p in root.iterdir())
        if videos:
            raise TrainingError(f"training dataset {name}: '{root}' (from {origin}) holds video files, and training "
                                "reads frames: write each video's frames to <seq>/00000001.jpg ... beside its boxes "
                                "as <seq>/groundtruth.txt (dt eval --dataset video reads the videos as they are)")
        lasot = present_names(root) if reader == "synth" and root.is_dir() else []
        if lasot:   # one's own footage in LaSOT's layout: SYNTH reads GOT-10k's, LASOT only LaSOT's own train split
            raise TrainingError(f"training dataset {name}: '{root}' (from {origin}) holds {len(lasot)} sequence(s) in "
                                f"LaSOT's layout (<class>/<class>-N/img/, such as {lasot[0]}), and {name} reads "
                                "GOT-10k's: move each <class>-N/ folder (its img/ and groundtruth.txt) up into one "
                                "root and pass that root (LaSOT's own training sequences train as LASOT, with a config "
                                "listing it)")
        raise TrainingError(f"training dataset {name}: no sequences under '{root}' (from {origin}); it should hold "
                            f"{LAYOUTS.get(reader, 'the dataset in its official layout')}; fix the path or "
                            "remove the name from DATA.TRAIN.DATASETS_NAME")


class PairDataset(Dataset):
    """Item (epoch, index) -> one processed template/search pair (resampled until valid)."""

    def __init__(self, datasets: list[list], ratios: list[float], max_gap: int, processing: Processing, seed: int,
                 box_weight: list[float] | None = None):
        self.datasets = datasets
        self.sampler = PairSampler(datasets, ratios, max_gap)
        self.processing = processing
        self.seed = seed
        self.box_weight = box_weight or None   # per dataset; a sample then says how much its box losses count

    def __len__(self) -> int:
        return 1 << 30

    def __getitem__(self, key) -> dict:
        """The sample; its "skipped" entry lists the errors of the unreadable frames (each named by its message)
        that made it draw again, for the training process to count and name (see `collate_pairs`), and its
        "damaged" entry the frames that decoded despite damage (a cut JPEG's lost part grey), to be named."""
        epoch, index = key
        rng = np.random.default_rng([self.seed, epoch, index])
        skipped: list[str] = []
        for _ in range(100):
            p = self.sampler.sample(rng)
            seq = self.datasets[p.dataset][p.sequence]
            said: dict[int, list[str]] = {p.template_frame: [], p.search_frame: []}
            try:   # a corrupt or missing frame: this pair is drawn again (the same draws on every run: resumable)
                t_frame = seq.frame(p.template_frame, said[p.template_frame])
                s_frame = t_frame if p.search_frame == p.template_frame else seq.frame(p.search_frame,
                                                                                       said[p.search_frame])
            except DatasetError as exc:
                skipped.append(str(exc))
                continue
            files = getattr(seq, "frames", None)   # image files (a video's frames are checked when it is read)
            damaged = [f"{files[i]}: {line}" for i, lines in said.items() if files and (line := first_damage(lines))]
            check_pair_sizes(seq, p.template_frame, p.search_frame, t_frame, s_frame)
            try:
                sample = self.processing(rng, t_frame, seq.boxes[p.template_frame], s_frame,
                                         seq.boxes[p.search_frame])
            except InvalidSample:
                continue
            out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sample.items()}
            if self.box_weight is not None:
                out["box_weight"] = torch.tensor(float(self.box_weight[p.dataset]), dtype=torch.float32)
            return {**out, "skipped": skipped, "damaged": damaged}
        if skipped:
            raise TrainingError(f"100 samples in a row at index {index} could not be used, {len(skipped)} for an "
                                f"unreadable frame (the latest: {skipped[-1]}); repair or re-download the dataset")
        raise TrainingError(f"100 invalid samples in a row at index {index}; check the dataset's boxes")


def collate_pairs(samples: list[dict]) -> dict:
    """A batch of PairDataset samples: their tensors stacked, and "skipped" / "damaged": every sample's skipped-frame
    errors and damaged frames."""
    from torch.utils.data import default_collate

    skipped = [msg for s in samples for msg in s.get("skipped", ())]
    damaged = [msg for s in samples for msg in s.get("damaged", ())]
    batch = default_collate([{k: v for k, v in s.items() if k not in ("skipped", "damaged")} for s in samples])
    batch["skipped"], batch["damaged"] = skipped, damaged
    return batch


class EpochBatchSampler(Sampler):
    """Batches of (epoch, index): global batch k holds indices [k*G, (k+1)*G); rank r takes its slice.

    `start` skips the first batches (a resumed epoch continues at batch start+1)."""

    def __init__(self, epoch: int, iterations: int, batch: int, rank: int = 0, world: int = 1, start: int = 0):
        self.epoch, self.iterations, self.batch, self.rank, self.world = epoch, iterations, batch, rank, world
        self.start = start

    def __len__(self) -> int:
        return self.iterations - self.start

    def __iter__(self):
        G = self.batch * self.world
        for k in range(self.start, self.iterations):
            start = k * G + self.rank * self.batch
            yield [(self.epoch, start + j) for j in range(self.batch)]


def data_name(name: str) -> str:
    """A --data NAME as droptrack spells it, whatever its letter case (synth_aux: SYNTH_aux, as synth was taken):
    an exact name first (synth is the reader, SYNTH the dataset), then a dataset's, then a reader's; else as given."""
    readers = {reader for reader, _ in DATASET_READERS.values()}
    if name in DATASET_READERS or name in readers:
        return name
    return next((known for known in [*DATASET_READERS, *sorted(readers)] if known.lower() == name.lower()), name)


def parse_data_roots(items: list[str]) -> dict[str, str]:
    """--data NAME=PATH (or a bare PATH, taken as SYNTH) -> mapping, NAME spelt as droptrack does (`data_name`)."""
    roots = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep:
            name, path = "SYNTH", item
        elif not name.strip() or not path.strip():   # '=PATH' read as a dataset named '', 'SYNTH=' as the folder ''
            empty = "the dataset name before '='" if not name.strip() else "the path after '='"
            raise TrainingError(f"--data {item}: {empty} is empty; pass NAME=PATH, e.g. --data SYNTH=data/train")
        name = data_name(name)
        if path == "~" or path.startswith("~/"):   # NAME=~/... quoted, or from zsh: the CLI expands a leading ~ only
            path = os.path.expanduser(path)
        if not Path(path).exists():
            whole = f"; '{item}' is a folder: pass --data SYNTH={item}" if sep and Path(item).exists() else ""
            raise TrainingError(f"--data {item}: '{path}' does not exist; pass NAME=PATH with an existing folder"
                                f"{whole}")
        if name in roots:   # the first was silently dropped: a dataset reads one root
            raise TrainingError(f"--data {name} is given twice ('{roots[name]}' and '{path}'); a dataset has one "
                                "root: put the sequences under one folder (or the folders under one root) and pass it")
        roots[name] = path
    return roots


def check_data_names(roots: dict[str, str], names: list[str]) -> None:
    """Every config training dataset is one droptrack reads (ConfigError naming the closest), and every --data NAME
    is one of them or their reader (another one would be ignored)."""
    for name in names:
        if name not in DATASET_READERS:
            lower = {n.lower(): n for n in DATASET_READERS}
            close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.75)]
            hint = f"did you mean '{close[0]}'? (valid: " if close else "valid: "
            raise ConfigError(f"DATA.TRAIN.DATASETS_NAME: '{name}' is not a training dataset droptrack reads; "
                              f"{hint}{', '.join(DATASET_READERS)}{')' if close else ''}; one's own footage in the "
                              "GOT-10k layout (<seq>/groundtruth.txt + frames) is SYNTH")
    both = next((n for n in names if n in roots and DATASET_READERS[n][0] in roots and n not in OWN_ROOT_ONLY), None)
    if both is not None:   # the reader's name (--data synth=...) was ignored beside the dataset's (SYNTH_aux: not its)
        reader = DATASET_READERS[both][0]
        raise TrainingError(f"--data {both}={roots[both]} and --data {reader}={roots[reader]} both give the root of "
                            f"{both}; pass one of them")
    used = set(names) | {DATASET_READERS[n][0] for n in names if n in DATASET_READERS}
    unused = next((n for n in roots if n not in used), None)
    if unused is not None:
        raise TrainingError(f"--data {unused}={roots[unused]}: the config trains on {', '.join(names)}, so this root "
                            f"would be ignored; pass NAME=PATH with one of those names")


def worker_message(exc: DropTrackError) -> str:
    """The original message of an error re-raised by a DataLoader worker (torch wraps it in the worker traceback)."""
    text = str(exc)
    if not text.startswith("Caught ") or "Original Traceback" not in text:
        return text
    prefix = f"{type(exc).__module__}.{type(exc).__qualname__}: "
    last = next((ln for ln in reversed(text.splitlines()) if ln.startswith(prefix)), None)
    return last[len(prefix):] if last is not None else text.splitlines()[0]


def unwrap_worker_errors(batches):
    """Yield the batches; a DropTrackError from a worker process is re-raised with its own one-line message."""
    try:
        yield from batches
    except DropTrackError as exc:
        msg = worker_message(exc)
        if msg == str(exc):
            raise
        raise type(exc)(msg) from None
    except RuntimeError as exc:   # torch's words for workers that found no room in shared memory
        if not any(w in str(exc) for w in SHM_WORDS):
            raise
        raise TrainingError(shm_message()) from None


SHM_WORDS = ("unable to allocate shared memory", "out of shared memory", "shared memory limit")


def shm_message() -> str:
    """What to do when the loader's worker processes run out of shared memory (Docker's default /dev/shm: 64 MB)."""
    import shutil

    try:
        free = f" ({shutil.disk_usage('/dev/shm').free / 2**20:.0f} MB free)"
    except OSError:
        free = ""
    return (f"the data-loading workers ran out of shared memory in /dev/shm{free}; pass --workers 0, or give the "
            "container more (docker run --shm-size 2g)")
