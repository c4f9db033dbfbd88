"""A training pair whose two frames differ in size: a frame resized on disk while its box kept the other size."""

from __future__ import annotations

from typing import Any

import numpy as np

from droptrack.errors import DatasetError, TrainingError


def _frame_name(seq: Any, i: int) -> str:
    """Frame `i` of `seq` as its message names it: its image file, or its number in the video."""
    return str(seq.frames[i]) if getattr(seq, "frames", None) is not None else f"{i + 1} of {seq.video}"


def check_pair_sizes(seq: Any, t: int, s: int, t_frame: np.ndarray, s_frame: np.ndarray) -> None:
    """TrainingError naming the sequence and the odd frame when frames `t` and `s` of `seq` differ in size: its boxes
    (one groundtruth.txt) would be cut from frames of two sizes, silently wrong crops where a frame was resized. The
    frames are decoded already, so the normal case costs a shape compare; the odd one is the one not of the first
    frame's size (`seq.image_size`, read only here)."""
    sizes = {t: (t_frame.shape[1], t_frame.shape[0]), s: (s_frame.shape[1], s_frame.shape[0])}
    if sizes[t] == sizes[s]:
        return
    try:
        first = tuple(seq.image_size)
    except DatasetError:   # the first frame unreadable: the later frame of the pair is named
        first = None
    odd = t if sizes[s] == first else s
    other = s if odd == t else t
    (w, h), (ow, oh) = sizes[odd], sizes[other]
    raise TrainingError(f"training sequence {seq.name}: frame {_frame_name(seq, odd)} is {w}x{h}, its frame "
                        f"{_frame_name(seq, other)} {ow}x{oh}; a sequence's frames must share one size (its boxes "
                        f"are cut from each as they are, and a resized frame's box no longer fits it): resize that "
                        f"frame to {ow}x{oh}, or move the sequence out of the training data")
