"""What a dt eval result was tracked on: each sequence's fingerprint in eval.json ("inputs"), which a rerun (or
dt analyze) compares before it resumes (or scores) results under the same sequence name.

A fingerprint is '<first>-<whole>'. <first> is all that earlier dt eval runs recorded: the length, the init box and
the first frame's bytes, so a set regenerated with other settings but the same first frame (the same seed and size)
passed as the set the results were tracked on. <whole> adds every frame's name and size and the first, middle and
last frames' bytes (`runtime.fingerprint.folder_sha256`, dt run's resume identity: one stat per frame, three reads);
a video's is its sampled sha256. An earlier run's fingerprint (no '-') is compared on <first> alone (`same_frames`):
its results still resume, and the run's eval.json then records them in full.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from droptrack.runtime.fingerprint import folder_sha256, sampled_sha256


def fingerprint(seq: Any) -> str:
    """What the tracker is given of a sequence: its length and init box, and its frames ('<first>-<whole>', 16 hex
    digits each, as the module says)."""
    h = hashlib.sha256(f"{len(seq)} {np.round(seq.boxes[0], 4).tolist()}".encode())
    try:
        h.update(Path(seq.frames[0]).read_bytes() if seq.frames is not None else b"%d" % seq.video.stat().st_size)
    except OSError:   # tracking it reports the unreadable frame
        pass
    try:
        whole = folder_sha256([Path(p) for p in seq.frames]) if seq.frames is not None else sampled_sha256(seq.video)
    except OSError:   # a frame missing or unreadable: tracking it reports the frame
        whole = "unreadable"
    return f"{h.hexdigest()[:16]}-{hashlib.sha256(whole.encode()).hexdigest()[:16]}"


def same_frames(recorded: object, current: object) -> bool:
    """Whether two fingerprints say the same frames; one an earlier dt eval recorded (the first part alone) is
    compared on that part."""
    if not isinstance(recorded, str) or not isinstance(current, str):
        return False
    if "-" in recorded and "-" in current:
        return recorded == current
    return recorded.partition("-")[0] == current.partition("-")[0]
