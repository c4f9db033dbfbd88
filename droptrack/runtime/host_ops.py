"""The host (numpy/OpenCV) crop and normalisation of the tracker without the reference's per-pixel float math.

`geometry.sample_target` + `geometry.normalize` stay the reference. This path gives the same bytes faster:

* the crop is a view of the frame when the window lies inside it (the reference copies it through
  `cv2.copyMakeBorder` first; `cv2.resize` of the view reads the same pixels);
* a padded window (`Cropper`) is drawn on a reused all-zero canvas, and only the frame rows that the bilinear
  resize reads (two per output row) are copied in: a window of a box that grew to the frame's size is ~10x the
  output side, so the reference writes a padded copy of 10-100x the pixels the resize uses. The rows it skips
  hold zeros instead of frame pixels, and a bilinear output row depends on its two source rows alone;
* normalisation is a per-channel table lookup: a uint8 input has 256 values per channel, so the table holds
  `geometry.normalize` of every value (built by calling it), and a lookup returns exactly its float32 result
  without the four full-size float passes (cast, /255, -mean, /std) and the HWC->CHW copy.
"""

from __future__ import annotations

import cv2
import numpy as np

from droptrack.errors import InputError
from droptrack.geometry import CropParams, crop_params, normalize


def _misses(p: CropParams, H: int, W: int) -> bool:
    """Whether the window lies outside the frame (nothing of it but zero padding)."""
    return max(p.x1, 0) >= min(p.x1 + p.crop_sz, W - 1) or max(p.y1, 0) >= min(p.y1 + p.crop_sz, H - 1)


def _ends_before(p: CropParams) -> bool:
    """Whether the window ends left of or above the frame: the official slice `im[y1 + pad:y2]` then has a negative
    end, which numpy counts from the frame's far side, so the reference crops a (non-square) part of the frame."""
    return p.x1 + p.crop_sz < 0 or p.y1 + p.crop_sz < 0


def ends_before(box, factor: float, image_hw: tuple[int, int]) -> bool:
    """Whether `box`'s crop window ends left of or above the frame (only an init box's can): the reference crops a real
    part of the frame there, which the device crop's zero padding cannot reproduce (`DeviceTracker` crops it here)."""
    return _ends_before(crop_params(box, factor, image_hw))


def crop_resize(image: np.ndarray, box, factor: float, output_sz: int) -> tuple[np.ndarray, float]:
    """`geometry.sample_target` (same output bytes), resizing a view of the frame when no padding is needed. A window
    that misses the frame (a smaller frame than the one the box was tracked in) is all zero padding, as the device
    crop (`device_ops.crop_resize`) reads it; the reference raises there."""
    return _crop_window(image, crop_params(box, factor, image.shape[:2]), output_sz)


def _crop_window(image: np.ndarray, p: CropParams, output_sz: int) -> tuple[np.ndarray, float]:
    """`crop_resize` of the window `p` (`geometry.crop_view`'s part of the frame, padded by copyMakeBorder)."""
    if _misses(p, *image.shape[:2]) and not _ends_before(p):
        return np.zeros((output_sz, output_sz) + image.shape[2:], image.dtype), output_sz / p.crop_sz
    x2, y2 = p.x1 + p.crop_sz, p.y1 + p.crop_sz
    patch = image[p.y1 + p.pad_t: y2 - p.pad_b, p.x1 + p.pad_l: x2 - p.pad_r]   # the reference's slice
    if patch.size == 0:   # a window ending a whole frame before it: the reference raises, the device crop reads 0
        return np.zeros((output_sz, output_sz) + image.shape[2:], image.dtype), output_sz / p.crop_sz
    try:
        if p.pad_t or p.pad_b or p.pad_l or p.pad_r:
            patch = cv2.copyMakeBorder(patch, p.pad_t, p.pad_b, p.pad_l, p.pad_r, cv2.BORDER_CONSTANT)
        return cv2.resize(patch, (output_sz, output_sz)), output_sz / p.crop_sz
    except (cv2.error, MemoryError) as exc:   # the padded window is made whole, as the official crop makes it
        if isinstance(exc, cv2.error) and "Insufficient memory" not in str(exc):
            raise
        size = p.crop_sz * p.crop_sz * (image.shape[2] if image.ndim == 3 else 1) / 1e9
        raise InputError(f"a crop window of {p.crop_sz}x{p.crop_sz} px ({size:.1f} GB) does not fit in memory: the "
                         "box is very large for these frames; give a smaller box, or downscale the frames") from None


def resize_rows(crop_sz: int, output_sz: int, slack: float = 0.01) -> np.ndarray:
    """The source rows an INTER_LINEAR resize of `crop_sz` rows to `output_sz` reads (sorted, unique): rows floor(s)
    and floor(s) + 1 of each output row's source position s = (i + 0.5) * crop_sz / output_sz - 0.5 (OpenCV's
    half-pixel mapping, clamped to the image), plus a neighbour where s lies within `slack` of a whole row, so that
    float rounding in any implementation of that mapping stays inside the set."""
    s = (np.arange(output_sz, dtype=np.float64) + 0.5) * (crop_sz / output_sz) - 0.5
    lo, hi = np.floor(s - slack).astype(np.intp), np.floor(s + slack).astype(np.intp)
    read = np.zeros(crop_sz + 3, dtype=bool)   # rows -1 .. crop_sz + 1, shifted by one
    for r in (lo, hi):
        read[r + 1] = True
        read[r + 2] = True
    read[1] |= read[0]                         # rows outside the image read its first and last row
    read[crop_sz] |= read[crop_sz + 1] | read[crop_sz + 2]
    return np.flatnonzero(read[1:crop_sz + 1])


CANVAS_BYTES = 64 << 20   # the largest canvas a Cropper keeps (a bigger window goes through copyMakeBorder)
MIN_SCALE = 3   # windows under 3x the output side read most of their rows: copyMakeBorder is as fast there


class Cropper:
    """`crop_resize` (the same bytes) whose padded windows are drawn on one reused zero canvas: only the frame rows
    the resize reads are written, and the last write is cleared before the next (per tracker; not thread-safe)."""

    def __init__(self, max_bytes: int = CANVAS_BYTES):
        self.max_bytes = max_bytes
        self._flat: np.ndarray | None = None    # the canvas memory, all zero but the last write
        self._dirty: tuple | None = None        # (view, rows, first column, end column) of the last write
        self._rows: dict[tuple[int, int], np.ndarray] = {}   # resize_rows by (crop side, output side), bounded

    @property
    def canvas_bytes(self) -> int:
        """Memory the canvas holds (at most `max_bytes`)."""
        return 0 if self._flat is None else self._flat.nbytes

    def __call__(self, image: np.ndarray, box, factor: float, output_sz: int) -> tuple[np.ndarray, float]:
        """`crop_resize(image, box, factor, output_sz)`: the (output_sz, output_sz, C) crop and its resize factor."""
        H, W = image.shape[:2]
        p = crop_params(box, factor, (H, W))
        S = p.crop_sz
        padded = p.pad_t or p.pad_b or p.pad_l or p.pad_r
        if (not padded or S < MIN_SCALE * output_sz or _misses(p, H, W) or _ends_before(p) or image.ndim != 3
                or S * S * image.shape[2] * image.itemsize > self.max_bytes):
            return _crop_window(image, p, output_sz)
        canvas = self._canvas(S, image.shape[2], image.dtype)
        rows = self._rows_read(S, output_sz)
        rows = rows[(rows >= p.pad_t) & (rows < S - p.pad_b)]            # those that hold frame pixels
        c0, c1 = p.pad_l, S - p.pad_r
        canvas[rows, c0:c1] = image[rows + p.y1, p.x1 + c0:p.x1 + c1]
        self._dirty = (canvas, rows, c0, c1)
        return cv2.resize(canvas, (output_sz, output_sz)), output_sz / S

    def _canvas(self, side: int, channels: int, dtype) -> np.ndarray:
        """A (side, side, channels) all-zero C-contiguous view of the canvas memory (grown by half when too small, so
        that a box growing a little every frame does not reallocate it every frame; never past `max_bytes`)."""
        n = side * side * channels
        if self._flat is None or self._flat.size < n or self._flat.dtype != dtype:
            grown = 0 if self._flat is None or self._flat.dtype != dtype else self._flat.size * 3 // 2
            self._flat = np.zeros(max(n, min(grown, self.max_bytes // np.dtype(dtype).itemsize)), dtype)
            self._dirty = None
        elif self._dirty is not None:
            view, rows, c0, c1 = self._dirty
            view[rows, c0:c1] = 0
            self._dirty = None
        return self._flat[:n].reshape(side, side, channels)

    def _rows_read(self, crop_sz: int, output_sz: int) -> np.ndarray:
        """`resize_rows`, remembered for the last few dozen sizes (a steady box keeps its window size)."""
        key = (crop_sz, output_sz)
        rows = self._rows.get(key)
        if rows is None:
            if len(self._rows) >= 64:
                self._rows.clear()
            rows = self._rows[key] = resize_rows(crop_sz, output_sz)
        return rows


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

