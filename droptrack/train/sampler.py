"""The official 'causal' frame-pair sampler (ostrack_spec.md 5.5), deterministic per sample index."""

from __future__ import annotations

from dataclasses import dataclass

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


def check_usable(names: list[str], ratios: list[float], visible: list[list[np.ndarray]]) -> None:
    """TrainingError naming the first dataset with a positive ratio that has no usable sequence (never sampled)."""
    for name, ratio, masks in zip(names, ratios, visible):
        if ratio > 0 and not any(usable(v) for v in masks):
            raise TrainingError(f"training dataset {name} has no usable sequence ({len(masks)} read; a video needs "
                                ">= 20 frames with > 4 visible, positive-size targets, an image one such box); fix "
                                "its --data root or annotations, or remove it from DATA.TRAIN.DATASETS_NAME")


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
