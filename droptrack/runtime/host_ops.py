"""The host (numpy/OpenCV) crop and normalisation of the tracker without the reference's per-pixel float math.

`geometry.sample_target` + `geometry.normalize` stay the reference. This path gives the same bytes faster:

* the crop is a view of the frame when the window lies inside it (the reference copies it through
  `cv2.copyMakeBorder` first; `cv2.resize` of the view reads the same pixels); padded windows still go
  through `copyMakeBorder`;
* normalisation is a per-channel table lookup: a uint8 input has 256 values per channel, so the table holds
  `geometry.normalize` of every value (built by calling it), and a lookup returns exactly its float32 result
  without the four full-size float passes (cast, /255, -mean, /std) and the HWC->CHW copy.
"""

from __future__ import annotations

import cv2
import numpy as np

from droptrack.errors import InputError
from droptrack.geometry import crop_params, crop_view, normalize


def crop_resize(image: np.ndarray, box, factor: float, output_sz: int) -> tuple[np.ndarray, float]:
    """`geometry.sample_target` (same output bytes), resizing a view of the frame when no padding is needed. A window
    that misses the frame (a smaller frame than the one the box was tracked in) is all zero padding, as the device
    crop (`device_ops.crop_resize`) reads it; the reference raises there."""
    p = crop_params(box, factor, image.shape[:2])
    H, W = image.shape[:2]
    if max(p.x1, 0) >= min(p.x1 + p.crop_sz, W - 1) or max(p.y1, 0) >= min(p.y1 + p.crop_sz, H - 1):
        return np.zeros((output_sz, output_sz) + image.shape[2:], image.dtype), output_sz / p.crop_sz
    patch, p = crop_view(image, box, factor)
    if p.pad_t or p.pad_b or p.pad_l or p.pad_r:
        patch = cv2.copyMakeBorder(patch, p.pad_t, p.pad_b, p.pad_l, p.pad_r, cv2.BORDER_CONSTANT)
    return cv2.resize(patch, (output_sz, output_sz)), output_sz / p.crop_sz


class Normalizer:
    """`geometry.normalize` of HWC uint8 RGB patches as three 256-entry float32 lookups (bit-identical)."""

    def __init__(self, mean, std):
        values = np.repeat(np.arange(256, dtype=np.uint8).reshape(1, 256, 1), 3, axis=2)
        table = normalize(values, mean, std)                      # (1, 3, 1, 256): the reference's own numbers
        self.tables = [np.ascontiguousarray(table[0, c]) for c in range(3)]   # (1, 256) float32 each

    def __call__(self, patch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """(H,W,3) uint8 -> (1,3,H,W) float32, written into `out` ((3,H,W) or (1,3,H,W)) when given."""
        if patch.dtype != np.uint8 or patch.ndim != 3 or patch.shape[2] != 3:
            raise InputError(f"the host normaliser takes RGB uint8 (H,W,3) patches, got {patch.dtype} {patch.shape}")
        h, w = patch.shape[:2]
        if out is None:
            out = np.empty((1, 3, h, w), dtype=np.float32)
        if out.dtype != np.float32 or out.size != 3 * h * w or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of 3x{h}x{w} values")
        planes = out.reshape(3, h, w)
        for c, plane in enumerate(cv2.split(patch)):
            cv2.LUT(plane, self.tables[c], dst=planes[c])
        return out

