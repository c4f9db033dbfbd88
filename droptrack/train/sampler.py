"""The official 'causal' frame-pair sampler (ostrack_spec.md 5.5), deterministic per sample index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from droptrack.errors import TrainingError

MIN_VIDEO_FRAMES = 20   # the official sampler draws pairs only from video sequences at least this long


@dataclass
class PairSpec:
    """Which frames of which sequence form one training pair."""

    dataset: int
    sequence: int
    template_frame: int
    search_frame: int


def visible_mask(seq) -> np.ndarray:
    """Frames usable for sampling: the dataset's visibility flags and a positive-size box."""
    boxes = np.asarray(seq.boxes, dtype=np.float64)
    ok = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    vis = getattr(seq, "visible", None)
    return ok & np.asarray(vis, dtype=bool) if vis is not None else ok


def usable(vis: np.ndarray) -> bool:
    """Whether the sampler can ever draw a pair from a sequence with these flags (the rules of `sample`)."""
    return bool(vis[0]) if len(vis) == 1 else len(vis) >= MIN_VIDEO_FRAMES and int(vis.sum()) > 4


def check_usable(names: list[str], ratios: list[float], sampler: PairSampler) -> None:
    """TrainingError naming the first dataset with a positive ratio that has no usable sequence (never sampled), or
    whose frames are not on disk (`check_frames`)."""
    for d, (name, ratio, masks) in enumerate(zip(names, ratios, sampler.visible)):
        if ratio > 0 and not any(usable(v) for v in masks):
            bare = first_box_only(sampler.datasets[d])
            if bare:   # a test split's annotations (GOT-10k's): 'no usable sequence' did not say why
                raise TrainingError(f"training dataset {name}: {bare}; training needs a box on every frame (one "
                                    "x,y,w,h line per frame); annotate the frames, or pass a set with full ground "
                                    "truth (a train or val split)")
            raise TrainingError(f"training dataset {name} has no usable sequence ({len(masks)} read; a video needs "
                                ">= 20 frames with > 4 visible, positive-size targets, an image one such box); fix "
                                "its --data root or annotations, or remove it from DATA.TRAIN.DATASETS_NAME")
        if ratio > 0:
            check_frames(name, sampler.datasets[d], masks, sampler.drawn[d])


def first_box_only(seqs: list) -> str:
    """'FILE holds a box for the first frame only ...' when no sequence of a dataset has a box past its first frame
    and some have that one (a GOT-10k test split, one's own footage annotated as one): '' otherwise."""
    from droptrack.data.sequence import has_gt

    bare = [s for s in seqs if len(s) > 1 and np.isfinite(np.asarray(s.boxes[0], dtype=np.float64)).all()]
    if not bare or any(has_gt(s) for s in seqs):
        return ""
    more = f" (so do {len(bare) - 1} more of its {len(seqs)} sequences)" if len(bare) > 1 else ""
    return (f"{annotation_file(bare[0])} holds a box for the first of its {len(bare[0])} frames only, as a test "
            f"split's groundtruth.txt does{more}")


def annotation_file(seq) -> str:
    """The file a sequence's boxes were read from, as far as the layout tells (groundtruth.txt in or above its frames'
    folder; a video's CLIP.txt), else 'sequence NAME's annotations'."""
    if seq.frames is None:
        return str(Path(seq.video).with_suffix(".txt"))
    folder = Path(seq.frames[0]).parent
    found = next((f / "groundtruth.txt" for f in (folder, folder.parent) if (f / "groundtruth.txt").is_file()), None)
    return str(found) if found is not None else f"sequence {seq.name}'s annotations"


FRAMES_CHECKED = 16   # sequences per dataset whose first usable frame is looked for before training starts


def check_frames(name: str, seqs: list, visible: list[np.ndarray], drawn: np.ndarray) -> None:
    """TrainingError when none of up to FRAMES_CHECKED drawn sequences (spread over the dataset) has its first usable
    frame on disk: frames never extracted, or named otherwise (00000001.JPG). Every sample would fail to read, and the
    run stopped after its output folder was made and the model built; a few missing files still pass (skipped)."""
    from droptrack.data.sequence import missing_frame

    picked = drawn[np.unique(np.linspace(0, len(drawn) - 1, min(FRAMES_CHECKED, len(drawn))).astype(int))]
    paths = [Path(seqs[s].frames[int(np.argmax(visible[s]))]) for s in picked if seqs[s].frames is not None]
    if not paths or any(p.is_file() for p in paths):
        return
    raise TrainingError(f"training dataset {name}: none of the {len(paths)} sequence(s) checked has its frames on "
                        f"disk (the first: {missing_frame(paths[0])})")   # the wording of dt eval's missing frame


class PairSampler:
    """Datasets mixed by ratio; sequences uniform; template then a strictly later search frame within the gap."""

    def __init__(self, datasets: list[list], ratios: list[float], max_gap: int, max_tries: int = 100):
        nonempty = [i for i, d in enumerate(datasets) if len(d)]
        if not nonempty:
            raise TrainingError("the training data has no sequences; check --data paths (or DT_DATA) and the "
                                "dataset names in DATA.TRAIN.DATASETS_NAME")
        self.datasets = datasets
        self.visible = [[visible_mask(s) for s in d] for d in datasets]
        # sequences the official sampler draws from (sample_seq_from_dataset): it re-draws a video with too few
        # visible frames within the same dataset, so the dataset mix stays DATASETS_RATIO; stills are all taken
        self.drawn = [np.flatnonzero([len(v) == 1 or (len(v) >= MIN_VIDEO_FRAMES and v.sum() > 4) for v in d])
                      for d in self.visible]
        p = np.array([r if len(d) else 0.0 for r, d in zip(ratios, datasets)], dtype=np.float64)
        self.probs = p / p.sum()
        self.max_gap = max_gap
        self.max_tries = max_tries

    @staticmethod
    def _choice(rng: np.random.Generator, vis: np.ndarray, lo: int, hi: int) -> int | None:
        lo, hi = max(0, lo), min(len(vis), hi)
        ids = np.flatnonzero(vis[lo:hi]) + lo if hi > lo else np.array([], dtype=int)
        return int(ids[rng.integers(len(ids))]) if len(ids) else None

    def sample(self, rng: np.random.Generator) -> PairSpec:
        """Draw one pair (official rules: > 4 visible frames and >= 20 frames for videos; gap grows by 5)."""
        for _ in range(self.max_tries):
            d = int(rng.choice(len(self.datasets), p=self.probs))
            if not len(self.drawn[d]):
                continue
            s = int(self.drawn[d][rng.integers(len(self.drawn[d]))])
            vis = self.visible[d][s]
            if len(vis) == 1:  # still image (COCO): template and search are the same frame
                if vis[0]:
                    return PairSpec(d, s, 0, 0)
                continue   # official: its empty crop fails processing, and the next try draws a dataset again
            gap = 0
            while True:
                t = self._choice(rng, vis, 0, len(vis) - 1)
                if t is None:
                    break
                x = self._choice(rng, vis, t + 1, t + self.max_gap + gap)
                if x is not None:
                    return PairSpec(d, s, t, x)
                gap += 5
        raise TrainingError("could not sample a valid frame pair in 100 tries; sequences need >= 20 frames with "
                            "> 4 visible targets")
