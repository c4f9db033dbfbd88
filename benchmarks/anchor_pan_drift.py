"""How far each model's box centre strays from a still target under a pure camera pan, with the opt-in first-frame
anchor and without: tests/test_anchor.py's still-target case (scikit-image's astronaut in grey, a 40 x 90 box, 8
frames panned 3 px right and 1.5 px up each), replayed for any number of models, so a candidate's number is known
before the full suite runs (the test's bar: 90 / 32 = 2.8 px with the anchor).

    python benchmarks/anchor_pan_drift.py MODEL [MODEL ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))   # sibling script: tune_tracker_ext (tracking)

from droptrack.errors import run_script  # noqa: E402

BOX = (190.0, 150.0, 40.0, 90.0)
# every anchor key, as the test names them: since version 30 a model's own keys fill the ones left out (the
# embedded model's: network size, gate 0.5, box reported only), which is another procedure
ANCHOR = {"ANCHOR_SCALE": 1.2, "ANCHOR_NCC": 0.8, "ANCHOR_SIZE": "first", "ANCHOR_GATE": 0.0, "ANCHOR_BOX": "state"}
NO_ANCHOR = {"ANCHOR_SCALE": None, "ANCHOR_NCC": None}


def panned(gray: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The photo moved by (dx, dy), edges reflected: what a pan of a still camera shows."""
    shift = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    return cv2.warpAffine(gray, shift, gray.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def worst_error(model: str, photo: np.ndarray, ext: dict | None) -> float:
    """The largest x or y centre error (px) over the 8 panned frames."""
    from tune_tracker_ext import track

    from droptrack.runtime.tracker import load_tracker

    shifts = np.array([(3.0 * i, -1.5 * i) for i in range(1, 9)])
    frames = [photo] + [panned(photo, dx, dy) for dx, dy in shifts]
    boxes = track(load_tracker(model, ext=ext), [cv2.cvtColor(f, cv2.COLOR_GRAY2RGB) for f in frames], list(BOX))
    centres = boxes[1:, :2] + boxes[1:, 2:] / 2
    return float(np.abs(centres - (np.array(BOX[:2]) + np.array(BOX[2:]) / 2 + shifts)).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    from skimage import data

    photo = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY), (480, 360), interpolation=cv2.INTER_AREA)
    print("| model | with the anchor (px) | without (px) |\n|---|---|---|")
    for model in args.models:
        held, free = worst_error(model, photo, ANCHOR), worst_error(model, photo, NO_ANCHOR)
        print(f"| {Path(model).name} | {held:.1f} | {free:.1f} |")


if __name__ == "__main__":
    run_script(main)
