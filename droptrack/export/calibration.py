"""INT8 calibration data: template/search pairs cropped with the tracker's geometry.

Sources (`--calib DATA`):
  synth          (default) a small synthetic real-photo set from droptrack.data.synth, generated in a temp folder
  photos         crops of scikit-image's bundled photos with random boxes and motion (no dataset needed)
  NAME[:ROOT]    a dataset known to droptrack.data.get_sequences (root from ROOT or DT_DATA_<NAME>)
  PATH           a folder of frames, a video, or a folder of videos, with ground truth: folder:PATH or video:PATH
A pair is what the tracker sees: the template around the box of a sequence's first frame and the search region of
a later frame j cropped around a jittered box of frame j-1 (the tracker's previous state, near the target).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
import numpy as np

from droptrack.artifact import ArtifactMeta
from droptrack.errors import ExportError
from droptrack.export.pairs import InputPair, crop_pair, load_photo
from droptrack.geometry import normalize, sample_target

MIN_CALIB_PAIRS = 8
DEFAULT_CALIB_PAIRS = 32
MAX_CALIB_PAIRS = 1024   # each pair holds ~1 MB of float crops (256-px search), all in memory while calibrating
JITTER_SHIFT = 0.25    # std of the state's centre offset, in units of sqrt(w*h)
JITTER_SCALE = 0.15    # std of the state's log size change
# photos not used by the parity pairs, so calibration and verification inputs differ
CALIB_PHOTOS = ("camera", "coins", "ihc", "color", "cell", "brick", "grass", "gravel", "clock_motion", "page",
                "motorcycle_right", "moon")


def check_pair_count(n: int) -> int:
    """Reject calibration sizes that cannot give usable activation ranges, or would not fit in memory."""
    if n < MIN_CALIB_PAIRS:
        raise ExportError(f"--calib-pairs {n} is too few for INT8 calibration; use at least {MIN_CALIB_PAIRS} "
                          f"(default {DEFAULT_CALIB_PAIRS})")
    from droptrack.config_rules import Rule, check_value

    return check_value("--calib-pairs", n, Rule(int, lo=MIN_CALIB_PAIRS, hi=MAX_CALIB_PAIRS))


def photo_pairs(meta: ArtifactMeta, n: int, seed: int = 0) -> list[InputPair]:
    """`n` pairs from random boxes (8-35% of the short side) and random motion on the calibration photos."""
    rng = np.random.default_rng(seed)
    images = [load_photo(p) for p in CALIB_PHOTOS]
    pairs = []
    for k in range(n):
        img = images[k % len(images)]
        H, W = img.shape[:2]
        s = min(H, W)
        w, h = rng.uniform(0.08, 0.35, size=2) * s
        x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
        box = [x, y, w, h]
        mx, my = rng.uniform(-0.15, 0.15, size=2)
        pairs.append(crop_pair(f"photo{k}", img, box, [x + mx * w, y + my * h, w, h], meta))
    return pairs


def jittered(box, rng: np.random.Generator, shift: float = JITTER_SHIFT, scale: float = JITTER_SCALE) -> list[float]:
    """A tracker state near `box`: centre moved by N(0, shift) x sqrt(w*h), size scaled by exp(N(0, scale))."""
    x, y, w, h = (float(v) for v in box)
    s = math.sqrt(w * h)
    cx, cy = x + w / 2 + rng.normal(0, shift) * s, y + h / 2 + rng.normal(0, shift) * s
    f = math.exp(rng.normal(0, scale))
    return [cx - w * f / 2, cy - h * f / 2, w * f, h * f]


def sequence_pairs(sequences: list, meta: ArtifactMeta, n: int, seed: int = 0) -> list[InputPair]:
    """`n` pairs as the tracker sees them, round-robin over sequences (frames with valid GT only).

    Template: the first valid frame's box (the tracker never updates it). Search: a later frame j cropped around
    a jittered copy of the box of frame j-1 (the tracker's previous state is near, not on, the target).
    """
    rng = np.random.default_rng(seed)
    usable = [s for s in sequences if len(s) >= 2 and int(s.valid().sum()) >= 2]
    templates: dict[str, np.ndarray] = {}
    pairs: list[InputPair] = []
    for k in range(n * 4):
        if len(pairs) >= n or not usable:
            break
        seq = usable[k % len(usable)]
        ok = np.flatnonzero(seq.valid())
        i, j = int(ok[0]), int(rng.choice(ok[1:]))
        prev = seq.boxes[j - 1] if seq.valid()[j - 1] else seq.boxes[j]
        if seq.name not in templates:
            z, _ = sample_target(seq.frame(i), seq.boxes[i], meta.template_factor, meta.template_size)
            templates[seq.name] = normalize(z, meta.mean, meta.std)
        x, _ = sample_target(seq.frame(j), jittered(prev, rng), meta.search_factor, meta.search_size)
        pairs.append(InputPair(f"{seq.name}:{i}->{j}", templates[seq.name], normalize(x, meta.mean, meta.std)))
    return pairs


def _synth_sequences(folder: Path, n: int) -> list:
    from droptrack.data import get_sequences
    from droptrack.data.synth import generate_synth

    n_seq = max(2, min(16, n // 2))
    generate_synth(folder, n_seq, 12, 0, size=(320, 240), split="train", overwrite=True)   # a cache folder
    return get_sequences("synth", folder, split="train")


def calib_spec(source: str | None) -> str:
    """The --calib spec as NAME[:ROOT]: an existing folder or video path is read as folder:PATH or video:PATH (as a
    dataset name it was 'unknown dataset'; a folder of videos and no images is video:PATH: it was 'no images');
    a path that does not exist -> one-line ExportError."""
    from droptrack.data.registry import DATASETS

    src = (source or "synth").strip()
    if src in ("photos", "synth") or src.partition(":")[0].strip().lower().replace("-", "") in DATASETS:
        return src
    path = Path(src).expanduser()
    if path.is_dir():
        from droptrack.data.folder import holds_image_sequences, holds_videos

        videos = not holds_image_sequences(path) and holds_videos(path)   # a folder of clips: their frames
        return f"{'video' if videos else 'folder'}:{src}"
    if path.is_file():
        return f"video:{src}"
    if "/" in src or "\\" in src or src.startswith((".", "~")):
        raise ExportError(f"--calib {src}: no such file or folder; pass an existing folder of frames, a video, a "
                          "dataset NAME[:ROOT], photos or synth")
    return src


def mixed_folder_note(source: str | None) -> str | None:
    """A note when --calib DIR holds image folders and videos both: the images are calibrated on and the videos
    were left out without a word; None otherwise."""
    from droptrack.data.folder import holds_image_sequences, is_video_file
    from droptrack.wording import counted

    src = (source or "").strip()
    path = Path(src).expanduser()
    if not src or calib_spec(src) != f"folder:{src}" or not path.is_dir():
        return None
    videos = sum(1 for p in path.iterdir() if is_video_file(p))
    if not videos or not holds_image_sequences(path):
        return None
    return (f"--calib {src} holds image folders and {counted(videos, 'video')}: INT8 was calibrated on the image "
            f"folders only (the videos were not read); pass --calib video:{src} to calibrate on the videos instead")


def check_calib_source(source: str | None) -> None:
    """--calib is photos, synth, a folder / video, or NAME[:ROOT] of a known dataset whose root exists and lists
    sequences with ground truth where calibration reads them (checked before any export: an empty or mis-split
    root, or a video without boxes, failed after the FP32 export)."""
    src = calib_spec(source)
    if src not in ("photos", "synth"):
        from droptrack.data.registry import canonical, resolve_root

        name, _, root = src.partition(":")
        resolve_root(canonical(name)[0], root or None, f"--calib {name}:DIR")
        seqs = _dataset_sequences(src)
        if not seqs:
            raise ExportError(f"--calib {src} has no sequences; point it at a dataset root with frames, or use "
                              "--calib synth (the default)")
        if not any(len(s) >= 2 and int(s.valid().sum()) >= 2 for s in seqs):
            raise ExportError(f"--calib {src} has no sequence with ground-truth boxes on 2+ frames (calibration "
                              "crops around the target); add its ground truth (e.g. clip.txt beside clip.mp4, one "
                              "x,y,w,h line per frame) or use --calib synth (the default)")


def _dataset_sequences(src: str) -> list:
    """The sequences of --calib NAME[:ROOT] (GOT-10k, LaSOT and synth: their train split, or the split folder named)."""
    from droptrack.data import get_sequences
    from droptrack.data.got10k import folder_split

    name, _, root = src.partition(":")
    split = "train" if name in ("got10k", "lasot", "synth") else None
    if name == "got10k" and root and folder_split(Path(root).expanduser(), "train"):
        split = None   # NAME:ROOT names a split folder (got10k/val): calibrate on it as it is
    return get_sequences(name, root or None, split=split, how=f"--calib {name}:DIR")


def calibration_pairs(meta: ArtifactMeta, source: str | None, n: int, seed: int = 0) -> tuple[list[InputPair], str]:
    """(pairs, description of the source actually used); too few pairs -> ExportError."""
    check_pair_count(n)
    src = calib_spec(source)
    if src == "photos":
        pairs, used = photo_pairs(meta, n, seed), "scikit-image photo crops"
    elif src == "synth":
        try:
            with tempfile.TemporaryDirectory(prefix="dt-calib-") as tmp:
                pairs, used = sequence_pairs(_synth_sequences(Path(tmp), n), meta, n, seed), "synthetic sequences"
        except ImportError:  # the synthetic generator is not installed: same photos, cropped directly
            pairs, used = photo_pairs(meta, n, seed), "scikit-image photo crops (droptrack.data.synth unavailable)"
    else:
        pairs, used = sequence_pairs(_dataset_sequences(src), meta, n, seed), f"dataset {src}"
    if len(pairs) < n:
        raise ExportError(f"--calib {src} gave only {len(pairs)} calibration pairs, {n} requested; use a larger "
                          f"dataset or lower --calib-pairs (minimum {MIN_CALIB_PAIRS})")
    return pairs, used
