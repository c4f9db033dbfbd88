"""A frame's grey levels, computed only where the first-frame anchor's patches read them (runtime/anchor.py).

The anchor warps a few small patches around each target, from the frame's grey levels area-averaged down so that the
warp does not alias. Converting and shrinking the whole frame for them cost 5-21 ms a frame at 1080p and 4K on one
core, and copied a device frame to the host whole. Here both are done on the region the patches read, bit for bit as
OpenCV does them on the whole frame: `cv2.cvtColor` is per pixel, INTER_AREA's taps are rebuilt from its definition
and summed in its float32 order, and the warp reads the region through the same fixed-point map shifted by whole
pixels. A region that is a large share of the frame, or a shrink by a whole factor (OpenCV's own integer path, which
rounds its own way), takes OpenCV's whole-frame path. Bit-identity is checked on x86-64 (tests/test_grey.py); an
OpenCV compiled with fused multiply-adds (aarch64 compilers fuse by default) may round a shrunk level differently.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

REGION_SHARE = 1 / 3   # a region of more source pixels than this share of the frame's is shrunk whole by OpenCV


def _affine(cx: float, cy: float, kx: float, ky: float, out_w: int, out_h: int) -> np.ndarray:
    """2x3 map of the frame into an out_w x out_h patch centred on (cx, cy), scaled by (kx, ky) (pixel centres at
    integer coordinates, as cv2.warpAffine has them)."""
    return np.array([[kx, 0, (out_w - 1) / 2 - cx * kx], [0, ky, (out_h - 1) / 2 - cy * ky]], np.float64)


def _inverse(a: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 map, computed as cv2.warpAffine computes it (so WARP_INVERSE_MAP samples the same)."""
    d = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
    d = 1.0 / d if d != 0 else 0.0
    a11, a22, a12, a21 = a[1, 1] * d, a[0, 0] * d, -a[0, 1] * d, -a[1, 0] * d
    return np.array([[a11, a12, -a11 * a[0, 2] - a12 * a[1, 2]], [a21, a22, -a21 * a[0, 2] - a22 * a[1, 2]]])


def area_taps(n_src: int, scale: float, d0: int, d1: int) -> tuple[np.ndarray, np.ndarray]:
    """INTER_AREA's taps of output pixels d0..d1-1 along an axis of n_src pixels shrunk by 1/scale: source indices
    (n, K) and float32 weights (n, K) in OpenCV's summation order, padded with weight 0."""
    f1 = np.arange(d0, d1, dtype=np.float64) * scale
    f2 = f1 + scale
    cell = np.minimum(scale, n_src - f1)
    s2 = np.minimum(np.floor(f2), n_src - 1)
    s1 = np.minimum(np.ceil(f1), s2)
    left, right = s1 - f1 > 1e-3, f2 - s2 > 1e-3
    n_full = (s2 - s1).astype(np.int64)
    k = int((left + n_full + right).max())
    j = np.arange(k)[None] - left[:, None]               # position among the whole taps; -1: the left part
    idx = np.where(j < 0, s1[:, None] - 1, s1[:, None] + j)
    w = np.where(j < 0, ((s1 - f1) / cell)[:, None], (1.0 / cell)[:, None])
    at_right = right[:, None] & (j == n_full[:, None])
    w = np.where(at_right, (np.minimum(np.minimum(f2 - s2, 1.0), cell) / cell)[:, None], w)
    used = (j < n_full[:, None]) | at_right | (j < 0)
    idx = np.clip(np.where(used, idx, s1[:, None]), 0, n_src - 1).astype(np.int64)
    return idx, np.where(used, w, 0.0).astype(np.float32)


def _area_region(grey: Any, shape: tuple[int, int], scale: float, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Rows r0..r1-1, columns c0..c1-1 of cv2.resize(whole, fx=fy=1/scale, INTER_AREA), from `grey(r0, r1, c0, c1)`
    regions of the whole frame."""
    yi, ya = area_taps(shape[0], scale, r0, r1)
    xi, xa = area_taps(shape[1], scale, c0, c1)
    y0, x0 = int(yi.min()), int(xi.min())
    src_t = np.ascontiguousarray(grey(y0, int(yi.max()) + 1, x0, int(xi.max()) + 1).T, dtype=np.float32)
    yi, xi = yi - y0, xi - x0   # columns first (transposed: each tap gathers whole rows), as OpenCV sums them
    buf_t = src_t[xi[:, 0]] * xa[:, :1]
    for k in range(1, xi.shape[1]):
        buf_t += src_t[xi[:, k]] * xa[:, k:k + 1]
    buf = np.ascontiguousarray(buf_t.T)
    out = ya[:, :1] * buf[yi[:, 0]]
    for k in range(1, yi.shape[1]):
        out += ya[:, k:k + 1] * buf[yi[:, k]]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _span(lo: float, hi: float, n: int) -> tuple[int, int]:
    """Pixels a bilinear warp reads for coordinates in [lo, hi] on an axis of n (2 px margin, at least 3 px: OpenCV
    treats a 1-px source differently), clamped to the frame, where BORDER_REPLICATE repeats the same pixels."""
    a = max(0, min(math.floor(lo) - 2, n - 3))
    return a, min(n, max(math.floor(hi) + 3, a + 3))


class GreyFrame:
    """A frame's grey levels for the anchor, made on demand: per patch region (default) or whole (`whole=True`,
    OpenCV's own path, the reference)."""

    def __init__(self, frame: Any, whole: bool = False):
        self.frame, self.whole = frame, whole
        self.shape = (int(frame.shape[0]), int(frame.shape[1]))
        self._all: np.ndarray | None = None

    def region(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Grey uint8 of rows r0..r1-1, columns c0..c1-1 (only that part of a device frame is copied)."""
        if self._all is not None:   # another target took the whole frame: its grey levels are these
            return self._all[r0:r1, c0:c1]
        part = self.frame[r0:r1, c0:c1]
        if not isinstance(part, np.ndarray):
            part = part.detach().cpu().numpy()
        if part.ndim == 2:
            return part
        return cv2.cvtColor(part, cv2.COLOR_RGB2GRAY)   # strided rows read in place; OpenCV packs a flipped view

    def grey(self) -> np.ndarray:
        """The whole frame's grey levels (made once)."""
        if self._all is None:
            self._all = self.region(0, self.shape[0], 0, self.shape[1])
        return self._all

    def patches(self, f: float, cx: float, cy: float, scales: list[tuple[float, float]], out_w: int,
                out_h: int) -> list[np.ndarray]:
        """The frame around (cx, cy) resized by each (kx, ky) of `scales` into out_w x out_h float32, edges replicated,
        from the grey levels area-averaged down by `f` first (f >= 0.99: not shrunk)."""
        f = 1.0 if f >= 0.99 else f   # cv2.resize puts frame pixel centre x at (x + 0.5) f - 0.5
        maps = [_affine((cx + 0.5) * f - 0.5, (cy + 0.5) * f - 0.5, kx / f, ky / f, out_w, out_h) for kx, ky in scales]
        fast = f < 1.0 and abs(1.0 / f - round(1.0 / f)) < np.finfo(np.float64).eps   # OpenCV's integer-scale path
        got = None if self.whole or fast else self._region_patches(f, maps, out_w, out_h)
        if got is not None:
            return got
        small = self.grey() if f == 1.0 else cv2.resize(self.grey(), None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        return [cv2.warpAffine(small, a, (out_w, out_h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE).astype(np.float32) for a in maps]

    def _region_patches(self, f: float, maps: list[np.ndarray], out_w: int, out_h: int) -> list[np.ndarray] | None:
        """`patches` warped from the region the maps read, shrunk there; None where that region is over REGION_SHARE
        of the (shrunk) frame."""
        H, W = self.shape
        hs, ws = (H, W) if f == 1.0 else (int(round(H * f)), int(round(W * f)))
        inv = [_inverse(a) for a in maps]
        xs = [m[0, 2] + m[0, 0] * e for m in inv for e in (0, out_w - 1)]   # where each map's corners read
        ys = [m[1, 2] + m[1, 1] * e for m in inv for e in (0, out_h - 1)]
        c0, c1 = _span(min(xs), max(xs), ws)
        r0, r1 = _span(min(ys), max(ys), hs)
        if (r1 - r0) * (c1 - c0) > REGION_SHARE * hs * ws:
            return None
        small = np.ascontiguousarray(self.region(r0, r1, c0, c1) if f == 1.0
                                     else _area_region(self.region, (H, W), 1.0 / f, r0, r1, c0, c1))
        shift = np.array([[0, 0, c0], [0, 0, r0]])
        return [cv2.warpAffine(small, m - shift, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE).astype(np.float32) for m in inv]
