"""First-frame anchor of a target (opt-in TEST keys ANCHOR_NCC and ANCHOR_SCALE; issue 11).

The network boxes what looks like an object. A target with no edge of its own (a pole among trees, a window in a
facade, a face whose box stops at the hairline) lets its box grow and slide off. Two classic cues that only look at
the target's own pixels hold it, at about 1 ms a frame on one CPU core:

* ANCHOR_SCALE (a tolerance >= 1): a DSST scale filter (Danelljan et al., BMVC 2014: a 1-D correlation filter over
  17 scales, gradient-orientation cells of the target resized to about 512 pixels, learning rate 0.025) follows the
  target's size from the first frame on, evaluated each frame at the network's centre. The network's width and
  height are clamped to within [size / tol, size x tol] of the filter's, so aspect changes pass and drift does not.
* ANCHOR_NCC (a threshold in (0, 1]): the first frame's target, resized to 32 px on its long side, is matched
  (normalised cross-correlation) in a window of twice the box around the network's centre, at the box's current
  size; where the peak reaches the threshold, the centre moves to it (sub-pixel, a parabola through the peak).

ANCHOR_SIZE 'network' evaluates the filter at the network's box each frame instead of following its own size: the
estimate s corrects the box to (w, h) x s, within x/÷ tol of the network's, so no size memory carries a numeric
difference from frame to frame (FP16/INT8 tracks stay with FP32's). ANCHOR_GATE: frames whose network score is below
it are left to the network (no correction, no learning), so a lost target does not teach the filter.

Both run on the host, on the frame's grey levels (made only around the patches they read: runtime/grey.py), after the
network's box is decoded and before the extensions' state update, so every backend (torch, ONNX Runtime, TensorRT,
the CUDA tracker) runs the same code. The state (the template, the filter, its size) goes into `dt run --resume`'s
journal with the target's memory.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from droptrack.runtime.grey import GreyFrame

SIDE, REACH = 32, 0.5                 # NCC template's long side (px), search reach (x the box, each side)
SCALES, STEP, LR, LAM = 17, 1.04, 0.025, 1e-2
AREA, CELL, BINS = 512, 4, 9
MAX_SIDE = 64 * AREA // (2 * CELL)   # 4096 px: only a box over ~4000:1 reaches it (1000 x 2 px: 504 x 8)


def gray_of(frame: Any) -> GreyFrame:
    """The grey levels of an RGB uint8 frame (array or device tensor) or grey uint8 (H, W) levels, made only where
    the anchor reads them; a GreyFrame as it is."""
    return frame if isinstance(frame, GreyFrame) else GreyFrame(frame)


def model_size(w: float, h: float) -> tuple[int, int]:
    """The scale filter's patch size for a w x h box: about AREA pixels, its aspect, whole cells; a side at most
    MAX_SIDE (a box 1e-9 x 50 px asked for 17 x 5 million cells, 5 GiB: dt serve was killed for memory)."""
    k = np.sqrt(AREA / (w * h))
    return tuple(min(MAX_SIDE, max(2 * CELL, int(round(v * k / CELL)) * CELL)) for v in (w, h))


def _pack(a: np.ndarray) -> dict:
    """JSON-safe array, exact: base64 of its bytes (float32 or float64, little-endian)."""
    a = np.ascontiguousarray(a, dtype="<f4" if a.dtype == np.float32 else "<f8")
    return {"dtype": a.dtype.str, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def _unpack(d: dict) -> np.ndarray:
    """The array `_pack` wrote."""
    return np.frombuffer(base64.b64decode(d["b64"]), dtype=d["dtype"]).reshape(d["shape"]).astype(d["dtype"][1:])


def _peak_offset(m: np.ndarray, i: int) -> float:
    """Sub-sample offset of a 1-D peak at `i` from the parabola through it and its neighbours."""
    if 0 < i < len(m) - 1:
        left, mid, right = float(m[i - 1]), float(m[i]), float(m[i + 1])
        curv = left - 2 * mid + right
        return 0.5 * (left - right) / curv if curv < 0 else 0.0
    return 0.0


class ScaleFilter:
    """DSST's scale filter: which of SCALES sizes around the current one the target fills, learnt online."""

    def __init__(self, model_wh: tuple[int, int], num: np.ndarray, den: np.ndarray):
        self.model_wh, self.num, self.den = model_wh, num, den
        ss = np.arange(SCALES) - SCALES // 2
        self.factors = STEP ** ss.astype(np.float64)
        self.label = np.exp(-0.5 * ss ** 2 / (np.sqrt(SCALES) / 4.0) ** 2)
        self.window = np.hanning(SCALES + 2)[1:-1]
        mw, mh = model_wh   # each pixel's (scale, cell) bin offset, fixed by the model size: made once, not per frame
        cell = (np.arange(mh) // CELL)[:, None] * (mw // CELL) + (np.arange(mw) // CELL)[None]
        self.cell_bins = (np.arange(SCALES)[:, None, None] * ((mh // CELL) * (mw // CELL)) + cell[None]) * BINS

    @classmethod
    def start(cls, gray: GreyFrame | np.ndarray, box: list[float]) -> "ScaleFilter":
        """A filter trained on the target `box` (x, y, w, h) of the first frame."""
        x, y, w, h = box
        sf = cls(model_size(w, h), np.zeros(0), np.zeros(0))
        xsf = sf._sample(gray, x + w / 2, y + h / 2, w, h)
        sf.num = np.asfortranarray(np.fft.fft(sf.label)[None] * np.conj(xsf))   # column-major: see from_dict
        sf.den = np.sum((xsf * np.conj(xsf)).real, 0)
        return sf

    def _sample(self, gray: GreyFrame | np.ndarray, cx: float, cy: float, w: float, h: float) -> np.ndarray:
        """(d, SCALES) FFT over scales of the windowed features of the target at each scale."""
        mw, mh = self.model_wh
        p = np.stack(gray_of(gray).patches(min(1.0, 1.5 * mw / w), cx, cy,
                                           [(mw / (w * s), mh / (h * s)) for s in self.factors], mw, mh)) / 255.0
        gx, gy = np.zeros_like(p), np.zeros_like(p)
        gx[:, :, 1:-1] = p[:, :, 2:] - p[:, :, :-2]
        gy[:, 1:-1] = p[:, 2:] - p[:, :-2]
        mag = np.sqrt(gx * gx + gy * gy)
        bins = np.minimum((np.arctan2(gy, gx) % np.pi) * (BINS / np.pi), BINS - 1).astype(np.int64)
        ch, cw = mh // CELL, mw // CELL
        hog = np.bincount((self.cell_bins + bins).ravel(), mag.ravel(),
                          SCALES * ch * cw * BINS).reshape(SCALES, ch * cw, BINS)
        hog /= np.sqrt((hog * hog).sum(-1, keepdims=True)) + 1e-3
        mean = p.reshape(SCALES, ch, CELL, cw, CELL).mean((2, 4)).reshape(SCALES, ch * cw, 1) - 0.5
        feats = np.concatenate([hog, mean], -1).reshape(SCALES, -1).T * self.window[None]
        return np.fft.fft(feats, axis=1)

    def step(self, gray: GreyFrame | np.ndarray, cx: float, cy: float, w: float, h: float) -> float:
        """The target's size relative to (w, h) at (cx, cy); the filter then learns from the same sample, its label
        centred on the scale found."""
        xsf = self._sample(gray, cx, cy, w, h)
        resp = np.real(np.fft.ifft(np.sum(self.num * xsf, 0) / (self.den + LAM)))
        i = int(np.argmax(resp))
        label = np.fft.fft(np.roll(self.label, i - SCALES // 2))
        self.num = np.asfortranarray((1 - LR) * self.num + LR * label[None] * np.conj(xsf))
        self.den = (1 - LR) * self.den + LR * np.sum((xsf * np.conj(xsf)).real, 0)
        return float(STEP ** (i - SCALES // 2 + _peak_offset(resp, i)))

    def to_dict(self) -> dict:
        """JSON-safe state."""
        return {"model_wh": list(self.model_wh), "num": _pack(np.stack([self.num.real, self.num.imag])),
                "den": _pack(self.den)}

    @classmethod
    def from_dict(cls, d: dict) -> "ScaleFilter":
        """The filter `to_dict` wrote; a ValueError for a patch size `model_size` never gives, arrays not of its
        size or values that are not finite. `num` is column-major, as `start` and `step` make it: sums over its rows
        then add in the same order, so a restored run goes on bit for bit (row-major, it parted in the last bits)."""
        mw, mh = (int(v) for v in d["model_wh"])
        if any(v % CELL or not 2 * CELL <= v <= MAX_SIDE for v in (mw, mh)) or mw * mh > 2 * CELL * MAX_SIDE:
            raise ValueError(f"its scale filter's size {d['model_wh']} px is not one a box gives")
        num, den = _unpack(d["num"]), _unpack(d["den"])
        if num.shape != (2, (mw // CELL) * (mh // CELL) * (BINS + 1), SCALES) or den.shape != (SCALES,):
            raise ValueError("its scale filter's arrays are not of its size")
        if not (np.isfinite(num).all() and np.isfinite(den).all() and (den >= 0).all()):
            raise ValueError("its scale filter holds NaN, infinite or negative values")
        packed = np.empty(num.shape[1:], np.complex128, order="F")   # its parts as saved (num[0] + 1j * num[1]
        packed.real, packed.imag = num                                  # turned an imaginary -0.0 into 0.0)
        return cls((mw, mh), packed, den)


@dataclass
class TargetAnchor:
    """One target's first-frame template (NCC), scale filter and the size it follows."""

    template: np.ndarray | None
    scale: ScaleFilter | None
    size: list[float]

    @classmethod
    def start(cls, gray: GreyFrame | np.ndarray, box: list[float], ncc: bool, scale: bool) -> "TargetAnchor":
        """The anchor of `box` (x, y, w, h) on the first frame's grey levels."""
        x, y, w, h = (float(v) for v in box)
        template = None
        if ncc:
            k = min(2.0, SIDE / max(w, h))
            tw, th = max(4, int(round(w * k))), max(4, int(round(h * k)))
            template = gray_of(gray).patches(k, x + w / 2, y + h / 2, [(tw / w, th / h)], tw, th)[0]
        return cls(template, ScaleFilter.start(gray, [x, y, w, h]) if scale else None, [w, h])

    def apply(self, gray: GreyFrame | np.ndarray, pred: list[float], ncc: float | None, tol: float | None,
              score: float = 1.0, size: str = "first", gate: float = 0.0) -> list[float]:
        """The network's box `pred` (x, y, w, h, peak `score`) with its size clamped to the filter's (ANCHOR_SCALE
        `tol`; ANCHOR_SIZE `size`) and its centre moved to the template's NCC peak where that reaches `ncc`; as
        given where `score` < `gate`."""
        x, y, w, h = pred
        cx, cy = x + w / 2, y + h / 2
        if score < gate:
            return list(pred)
        if self.scale is not None and tol is not None:
            ref = [w, h] if size == "network" else self.size   # 'network': no size of its own is kept
            s = self.scale.step(gray, cx, cy, *ref)
            ref_w, ref_h = ref[0] * s, ref[1] * s
            if size != "network":
                self.size = [ref_w, ref_h]
            w = min(max(w, ref_w / tol), ref_w * tol)
            h = min(max(h, ref_h / tol), ref_h * tol)
        if self.template is not None and ncc is not None and w > 0 and h > 0:
            th, tw = self.template.shape
            kx, ky = tw / w, th / h
            rw, rh = int(round(tw * (1 + 2 * REACH))), int(round(th * (1 + 2 * REACH)))
            k = min(kx, ky)
            region = gray_of(gray).patches(1.5 * k if k < 0.5 else 1.0, cx, cy, [(kx, ky)], rw, rh)[0]
            m = cv2.matchTemplate(region, self.template, cv2.TM_CCOEFF_NORMED)
            _, peak, _, (px, py) = cv2.minMaxLoc(m)
            if peak >= ncc:
                cx += (px + _peak_offset(m[py], px) + (tw - rw) / 2) / kx
                cy += (py + _peak_offset(m[:, px], py) + (th - rh) / 2) / ky
        return [cx - w / 2, cy - h / 2, w, h]

    def to_dict(self) -> dict:
        """JSON-safe state (`dt run --resume`)."""
        return {"template": None if self.template is None else _pack(self.template),
                "scale": None if self.scale is None else self.scale.to_dict(), "size": [float(v) for v in self.size]}

    @classmethod
    def from_dict(cls, d: dict, like: "TargetAnchor") -> "TargetAnchor":
        """The anchor `to_dict` wrote, with the parts of `like` (the target's anchor as initialised: the same
        settings); a ValueError (or KeyError, TypeError) where it has others or holds values that are not finite."""
        if (d["template"] is None) != (like.template is None) or (d["scale"] is None) != (like.scale is None):
            raise ValueError("its first-frame anchor has other parts (ANCHOR_NCC / ANCHOR_SCALE) than this tracker's")
        template = None if d["template"] is None else _unpack(d["template"])
        if template is not None and (template.ndim != 2 or not 4 <= min(template.shape) <= max(template.shape) <= SIDE
                                     or not np.isfinite(template).all()):
            raise ValueError(f"its NCC template of shape {template.shape} is not one a box gives, or not finite")
        size = [float(v) for v in d["size"]]
        if len(size) != 2 or not all(np.isfinite(size)) or min(size) <= 0:
            raise ValueError(f"its anchor size {size} is not two numbers > 0")
        return cls(template, None if d["scale"] is None else ScaleFilter.from_dict(d["scale"]), size)


def start_anchors(memory: list, frame: Any, states: list[list[float]], ncc: float | None,
                  tol: float | None) -> None:
    """Give each new target's memory (the last len(states) of `memory`) its anchor on `frame`, when either key is on."""
    if ncc is None and tol is None or not states:
        return
    gray = gray_of(frame)
    for mem, box in zip(memory[len(memory) - len(states):], states):
        mem.anchor = TargetAnchor.start(gray, box, ncc is not None, tol is not None)


def anchored(ext: Any) -> bool:
    """Whether a TrackerExt's first-frame anchor is on (ANCHOR_SCALE or ANCHOR_NCC; its other keys act only then)."""
    return ext.anchor_scale is not None or ext.anchor_ncc is not None


def anchor_words(ext: Any) -> str:
    """The anchor settings of a TrackerExt in a few words, for run summaries."""
    tol, ncc, gate = ext.anchor_scale, ext.anchor_ncc, ext.anchor_gate
    parts = ([f"scale filter x/÷{tol:g}" + (" of the network's box" if ext.anchor_size == "network" else "")]
             if tol is not None else []) + ([f"NCC centre at {ncc:g}"] if ncc is not None else [])
    return ("first-frame anchor (" + ", ".join(parts) + (f"; score >= {gate:g}" if gate else "")
            + ("; its box reported only" if ext.anchor_box == "report" else "") + ")")
