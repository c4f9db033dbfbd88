"""Signatures of synthetic sets for tests/test_synth_attached.py, and the command that recorded them.

A set's signature is exact for its label files (sha256 over every non-image file of every sequence, name then bytes)
and coarse for its frames: each frame's pixel sums over an 8 x 5 grid of blocks, per channel. OpenCV releases round
a few pixels of the same rendering differently (5.1.0 moved one pixel of one frame of `all_val` by one level), so a
frame digest tied the test to one OpenCV build; a block sum moves by a few units under such rounding and by
hundreds when a draw, a photo or a path changes.

Recorded with the generator as it was before `attached` existed (commit 900836e) and opencv-contrib-python-headless
5.0.0.93, from a checkout of that commit:

    PYTHONPATH=CHECKOUT_OF_900836e python tests/synth_before.py tests/data/synth_before.npz
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np

SIZE = (320, 180)
GRID = (5, 8)   # rows, columns of blocks: 36 x 40 pixels each at SIZE
CASES = {
    "plain_val": dict(frames=12, split="val"),
    "plain_train": dict(frames=12, split="train"),
    "all_val": dict(frames=30, split="val", attributes="all"),
    "all_train": dict(frames=30, split="train", attributes="all"),
    "all_test_moderate": dict(frames=30, split="test", attributes="all", difficulty="moderate"),
}
IMAGE = ".png"


def block_sums(path: Path) -> np.ndarray:
    """(rows, cols, 3) int64 pixel sums of a frame over the GRID blocks (BGR, as OpenCV reads it)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR).astype(np.int64)
    h, w = img.shape[:2]
    r, c = GRID
    return img.reshape(r, h // r, c, w // c, 3).sum(axis=(1, 3))


def signature(out: Path) -> tuple[str, list[str], np.ndarray]:
    """(label digest, frame names 'seq/file', block sums stacked) of a generated set folder."""
    h, names, sums = hashlib.sha256(), [], []
    for seq in sorted(p for p in out.iterdir() if p.is_dir()):
        for f in sorted(seq.iterdir()):
            if f.suffix == IMAGE:
                names.append(f"{seq.name}/{f.name}")
                sums.append(block_sums(f))
            else:
                h.update(f.name.encode())
                h.update(f.read_bytes())
    return h.hexdigest(), names, np.stack(sums)


def generate(case: str, folder: Path) -> Path:
    """The set of `case`: two sequences, seed 11, SIZE, png frames."""
    from droptrack.data.synth import generate_synth

    return generate_synth(folder / case, 2, seed=11, size=SIZE, ext="png", **CASES[case])


def main(dest: str) -> None:
    """Write every case's signature into `dest` (.npz)."""
    arrays = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            labels, names, sums = signature(generate(case, Path(tmp)))
            arrays.update({f"{case}.labels": np.array(labels), f"{case}.names": np.array(names),
                           f"{case}.sums": sums.astype(np.int32)})
    np.savez_compressed(dest, **arrays)


if __name__ == "__main__":
    main(sys.argv[1])
