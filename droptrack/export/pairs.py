"""Real-photo input pairs for export parity and calibration.

Pairs are crops of real photos (scikit-image's bundled images) taken with the tracker's own geometry
(`sample_target` + `normalize`): the template around an object box, the search region around the same box
shifted as if the target had moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from droptrack.artifact import ArtifactMeta
from droptrack.geometry import normalize, sample_target

# (photo, object box as fractions x, y, w, h of the image, target motion as fractions of the box size)
PHOTO_PAIRS = (
    ("astronaut", (0.33, 0.06, 0.25, 0.34), (0.10, -0.05)),
    ("chelsea", (0.30, 0.10, 0.42, 0.62), (-0.08, 0.06)),
    ("coffee", (0.28, 0.12, 0.45, 0.60), (0.05, 0.10)),
    ("motorcycle_left", (0.15, 0.25, 0.65, 0.55), (-0.06, -0.04)),
)



@dataclass
class InputPair:
    """One normalised (template, search) input pair, 1x3xZxZ and 1x3xXxX float32."""

    name: str
    template: np.ndarray
    search: np.ndarray


def load_photo(name: str) -> np.ndarray:
    """A bundled photo as HxWx3 uint8 RGB, decoded without libpng's notes on stderr (e.g. an iCCP profile's)."""
    import cv2

    from droptrack.data.media import photo_dir
    from droptrack.decodelog import quiet_decoding

    img = quiet_decoding(cv2.imread, str(photo_dir() / f"{name}.png"), cv2.IMREAD_COLOR)[0]
    if img is None:
        from droptrack.errors import ExportError

        raise ExportError(f"photo '{name}.png' missing from scikit-image's data folder; reinstall scikit-image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def crop_pair(name: str, image: np.ndarray, box, moved_box, meta: ArtifactMeta) -> InputPair:
    """Template around `box`, search around `box` in the frame where the target moved to `moved_box`.

    The search crop is taken around the previous state (`box`) as the tracker does; `moved_box` only shifts
    the image content (the frame is translated), so both crops come from real pixels.
    """
    import cv2

    z, _ = sample_target(image, box, meta.template_factor, meta.template_size)
    dx, dy = moved_box[0] - box[0], moved_box[1] - box[1]
    M = np.float32([[1, 0, dx], [0, 1, dy]])
    frame = cv2.warpAffine(image, M, (image.shape[1], image.shape[0]))
    x, _ = sample_target(frame, box, meta.search_factor, meta.search_size)
    return InputPair(name, normalize(z, meta.mean, meta.std), normalize(x, meta.mean, meta.std))


def real_pairs(meta: ArtifactMeta, n: int = 3) -> list[InputPair]:
    """`n` (<= 4) different real-photo input pairs with the artifact's sizes and crop factors."""
    pairs = []
    for name, (fx, fy, fw, fh), (mx, my) in PHOTO_PAIRS[:n]:
        img = load_photo(name)
        H, W = img.shape[:2]
        box = [fx * W, fy * H, fw * W, fh * H]
        moved = [box[0] + mx * box[2], box[1] + my * box[3], box[2], box[3]]
        pairs.append(crop_pair(name, img, box, moved, meta))
    return pairs
