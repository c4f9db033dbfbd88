"""Crop, normalisation, Hann window, box decoding, map-back and clip: the official tracker geometry.

Pure numpy/OpenCV (the Hann window bit-identical to the official torch one without importing torch), importable by
train, export and runtime alike. Numbers follow `lib/train/data/processing_utils.py` and
`lib/test/tracker/ostrack.py` bit for bit (see ostrack_spec.md section 4).
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

import cv2
import numpy as np

from droptrack.errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class CropParams:
    """Integer crop window of `sample_target` in image pixels, plus its zero padding."""

    x1: int
    y1: int
    crop_sz: int
    pad_l: int
    pad_r: int
    pad_t: int
    pad_b: int


def crop_params(box: tuple | list | np.ndarray, factor: float, image_hw: tuple[int, int]) -> CropParams:
    """Window of the official `sample_target` (square crop of side ceil(sqrt(wh)*factor) around the box centre)."""
    x, y, w, h = (float(v) for v in box)
    crop_sz = math.ceil(math.sqrt(w * h) * factor)
    if crop_sz < 1 or not math.isfinite(w * h):
        raise InputError(f"box {list(box)} gives an empty crop; boxes need positive width and height")
    H, W = image_hw
    x1 = round(x + 0.5 * w - crop_sz * 0.5)
    y1 = round(y + 0.5 * h - crop_sz * 0.5)
    x2, y2 = x1 + crop_sz, y1 + crop_sz
    return CropParams(x1, y1, crop_sz, max(0, -x1), max(x2 - W + 1, 0), max(0, -y1), max(y2 - H + 1, 0))


def crop_view(image: np.ndarray, box, factor: float) -> tuple[np.ndarray, CropParams]:
    """The part of `sample_target`'s window inside the image (a view, no copy) and the window's parameters."""
    p = crop_params(box, factor, image.shape[:2])
    x2, y2 = p.x1 + p.crop_sz, p.y1 + p.crop_sz
    patch = image[p.y1 + p.pad_t: y2 - p.pad_b, p.x1 + p.pad_l: x2 - p.pad_r]
    if patch.size == 0:
        H, W = image.shape[:2]
        if p.x1 < W and p.y1 < H and x2 > 0 and y2 > 0:   # a tiny box on the last row or column: the official crop
            raise InputError(f"box {list(box)} is too small at the edge of the {W}x{H} image to crop (the official "
                             "crop leaves out the last row and column); give a box that reaches further into the frame")
        raise InputError(f"box {list(box)}: its {factor:g}x crop window, centred on the box's centre, lies outside "
                         f"the {W}x{H} image; give a box centred nearer the visible target")
    return patch, p


def sample_target(image: np.ndarray, box, factor: float, output_sz: int) -> tuple[np.ndarray, float]:
    """Official crop: zero padding with the '+1' right/bottom quirk, then cv2 INTER_LINEAR resize."""
    patch, p = crop_view(image, box, factor)
    patch = cv2.copyMakeBorder(patch, p.pad_t, p.pad_b, p.pad_l, p.pad_r, cv2.BORDER_CONSTANT)
    patch = cv2.resize(patch, (output_sz, output_sz))
    return patch, output_sz / p.crop_sz


def crop_pad_mask(box, factor: float, image_hw: tuple[int, int], output_sz: int) -> np.ndarray:
    """Official padding mask of a crop (True = padded), bilinear-resized then cast to bool."""
    p = crop_params(box, factor, image_hw)
    H, W = image_hw
    mask = np.ones((H, W), dtype=np.float32)
    x2, y2 = p.x1 + p.crop_sz, p.y1 + p.crop_sz
    mask = mask[p.y1 + p.pad_t: y2 - p.pad_b, p.x1 + p.pad_l: x2 - p.pad_r]
    mask = 1.0 - np.pad(mask, ((p.pad_t, p.pad_b), (p.pad_l, p.pad_r)), constant_values=0.0)
    mask = cv2.resize(mask, (output_sz, output_sz), interpolation=cv2.INTER_LINEAR)
    return mask.astype(bool)


def normalize(patch: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """HWC uint8 RGB -> 1x3xHxW float32, (x/255 - mean)/std, as the official preprocessor."""
    t = patch.astype(np.float32).transpose(2, 0, 1)[None] / np.float32(255.0)
    m = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return np.ascontiguousarray((t - m) / s)


# PyTorch's float32 cos (the official hann2d's, x86 builds) differs from the correctly rounded cosine in a few places
# by one unit in the last place: per window size F, "k+" / "k-" means cos(a_k)'s float32 bit pattern is one above /
# below the correctly rounded one's (recorded from torch's own hann2d for F = 1..HANN_RECORDED; others are equal).
HANN_COS_ULPS: dict[int, str] = {
    4: "2-", 9: "4-", 12: "8-", 14: "6-", 16: "15-", 19: "8-", 21: "9-", 22: "4+ 15+", 24: "8+ 10- 14+",
    25: "3- 15- 16-", 27: "27+", 28: "8+ 17- 26-", 29: "12-", 30: "14+", 31: "1+", 32: "16-", 33: "30-", 34: "14-",
    36: "25+", 38: "32+", 39: "16- 27+ 33+", 43: "18- 29+", 44: "18- 22- 43+", 45: "8+ 19- 30+",
    46: "21+ 22+ 26+ 33+", 47: "47-", 48: "8+ 24-", 49: "11+ 16+ 20- 28+", 50: "45-", 51: "3+ 6- 21- 29+ 30- 32-",
    52: "18+ 29+ 47-", 53: "51+ 53-", 54: "38+ 53+", 55: "47+ 54+", 56: "39+ 47+", 57: "16+ 34- 52-", 58: "29- 56+",
    59: "24-", 60: "3+ 5-", 61: "1- 28+ 43+", 62: "3+ 4+ 20+ 31- 43+", 63: "2+ 21+", 64: "22+ 26-",
}
HANN_RECORDED = 64


def hann1d(size: int) -> np.ndarray:
    """Official 1-D cosine window (F,) float32, 0.5(1-cos(2*pi*k/(F+1))), k=1..F, in torch's float32 steps, bit for
    bit without torch (sizes over HANN_RECORDED use torch's cos where torch is installed)."""
    try:
        n = operator.index(size)
    except TypeError:
        n = 0
    if n < 1:
        raise InputError(f"window size {size!r} must be an int >= 1 (the score map's side)")
    size = n
    angles = np.float32(2 * math.pi / (size + 1)) * np.arange(1, size + 1, dtype=np.float32)   # float32, as torch
    cos = np.array([math.cos(float(a)) for a in angles], dtype=np.float64).astype(np.float32)   # rounded once
    bits = cos.view(np.int32)
    for item in HANN_COS_ULPS.get(size, "").split():
        bits[int(item[:-1]) - 1] += 1 if item[-1] == "+" else -1
    if size > HANN_RECORDED:
        cos = _torch_cos(angles, cos)
    return np.float32(0.5) * (np.float32(1) - cos)


def _torch_cos(angles: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """torch's float32 cos of `angles` (a window larger than the recorded ones); `fallback` without torch."""
    try:
        import torch
    except ImportError:
        return fallback
    return torch.cos(torch.from_numpy(angles)).numpy()


def hann2d(size: int) -> np.ndarray:
    """Official cosine window (1,1,F,F) float32: the outer product of `hann1d` with itself (torch's hann2d)."""
    w = hann1d(size)
    return w.reshape(1, 1, -1, 1) * w.reshape(1, 1, 1, -1)


def decode_box(score_map: np.ndarray, size_map: np.ndarray, offset_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Official `cal_bbox`: (B,4) (cx,cy,w,h) normalised to the search crop, and the (B,) peak scores."""
    B, _, F, _ = score_map.shape
    flat = score_map.reshape(B, -1)
    idx = flat.argmax(axis=1)
    peak = flat[np.arange(B), idx]
    iy, ix = idx // F, idx % F
    off = offset_map.reshape(B, 2, -1)[np.arange(B), :, idx]
    size = size_map.reshape(B, 2, -1)[np.arange(B), :, idx]
    fs = np.float32(F)
    cx = (ix.astype(np.float32) + off[:, 0]) / fs
    cy = (iy.astype(np.float32) + off[:, 1]) / fs
    return np.stack([cx, cy, size[:, 0], size[:, 1]], axis=1).astype(np.float32), peak


def map_box_back(pred_box_px: list[float], prev_state: list[float], search_size: int,
                 resize_factor: float) -> list[float]:
    """Crop-pixel (cx,cy,w,h) -> image (x,y,w,h) with the unrounded crop origin (official quirk)."""
    cx_prev = prev_state[0] + 0.5 * prev_state[2]
    cy_prev = prev_state[1] + 0.5 * prev_state[3]
    cx, cy, w, h = pred_box_px
    half = 0.5 * search_size / resize_factor
    cx_real = cx + (cx_prev - half)
    cy_real = cy + (cy_prev - half)
    return [cx_real - 0.5 * w, cy_real - 0.5 * h, w, h]


def clip_box(box: list[float], H: int, W: int, margin: int = 10) -> list[float]:
    """Official clip: keep at least `margin` px of the box inside the image (frames under `margin` px: all of it);
    floats always (a clipped side would otherwise be the int bound, e.g. 0 or W - 10)."""
    x1, y1, w, h = box
    x2, y2 = x1 + w, y1 + h
    mx, my = min(margin, W), min(margin, H)   # the official code assumes frames of >= margin px
    x1 = min(max(0, x1), W - mx)
    x2 = min(max(mx, x2), W)
    y1 = min(max(0, y1), H - my)
    y2 = min(max(my, y2), H)
    return [float(x1), float(y1), float(max(mx, x2 - x1)), float(max(my, y2 - y1))]


def box_in_crop(box_in, box_extract, resize_factor: float, crop_out_sz: int,
                normalize_out: bool = True) -> np.ndarray:
    """Official `transform_image_to_crop`: a box in image coords -> the crop taken around `box_extract`."""
    box_in = np.asarray(box_in, dtype=np.float64)
    box_extract = np.asarray(box_extract, dtype=np.float64)
    c_ext = box_extract[:2] + 0.5 * box_extract[2:4]
    c_in = box_in[:2] + 0.5 * box_in[2:4]
    c_out = (crop_out_sz - 1) / 2 + (c_in - c_ext) * resize_factor
    wh_out = box_in[2:4] * resize_factor
    out = np.concatenate([c_out - 0.5 * wh_out, wh_out])
    return out / crop_out_sz if normalize_out else out


def template_center_index(grid: int) -> int:
    """Flat index of the CTR_POINT template token: (grid-1)//2 in both axes (12x12 -> 65, 8x8 -> 27)."""
    c = (grid - 1) // 2
    return c * grid + c


MAX_BOX_OVER_FRAME = 2   # an init box's side sqrt(w*h), which sizes its crops, at most twice the frame's larger side


def validate_init_box(box, image_hw: tuple[int, int]) -> list[float]:
    """Check an init box (x,y,w,h) against the frame; raise a one-line InputError naming the fix."""
    try:
        vals = [float(v) for v in box]
    except (TypeError, ValueError):
        raise InputError(f"init box {box!r} is not four numbers; pass --init x,y,w,h") from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise InputError(f"init box {vals} must be four finite numbers x,y,w,h; pass --init x,y,w,h")
    x, y, w, h = vals
    H, W = image_hw
    if w <= 0 or h <= 0:
        raise InputError(f"init box {vals} has zero or negative size; width and height must be > 0")
    if x >= W or y >= H or x + w <= 0 or y + h <= 0:
        raise InputError(f"init box {vals} lies outside the {W}x{H} frame; give a box that overlaps the image")
    side = math.sqrt(w * h) if math.isfinite(w * h) else math.sqrt(w) * math.sqrt(h)   # 1e308 x 10: not 'inf px'
    if side > MAX_BOX_OVER_FRAME * max(W, H):   # a thin 1000x2 box crops 90 px: fine
        raise InputError(f"init box {w:g}x{h:g} is more than {MAX_BOX_OVER_FRAME}x the {W}x{H} frame (its crops, "
                         f"2 to 5 times its side sqrt(w*h) = {side:.{'0f' if side < 1e6 else '3g'}} px, would not fit "
                         "in memory); give a box around the target inside the frame")
    return vals


def check_box_size(box, name: str, fix: str = "give a box of at least 1x1 px") -> None:
    """A box under 1 px wide or high -> one-line InputError (`name` says which box): a target is at least a pixel
    (the official result file would hold a 0-wide box). NaN, zero or negative sides pass: validate_init_box names
    them."""
    if 0 < min(float(box[2]), float(box[3])) < 1:
        raise InputError(f"{name} is under 1 pixel wide or high; {fix}")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (N,4) x,y,w,h boxes (continuous coordinates); identical rows give exactly 1."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # boxes of 1e308s: no RuntimeWarning lines
        iw = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
        ih = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
        iou = np.where(union > 0, inter / union, 0.0)
    return np.where((a == b).all(axis=1), 1.0, iou)


def placeholder_box(text: str) -> str | None:
    """The error for `--init x,y,w,h` pasted from a hint (dt demo's and dt export's next lines) as it reads, or None:
    it was told to 'pass --init x,y,w,h', the very text it had passed."""
    if re.fullmatch(r"x[,\s]+y[,\s]+w[,\s]+h", str(text).strip(), re.I) is None:
        return None
    return (f"--init {text!r} is the placeholder of an example: replace it with the target's box on the first frame, "
            "in pixels: left x, top y, width, height (e.g. --init 300,18,265,182)")


def parse_box(text: str) -> list[float]:
    """'x,y,w,h' (commas and/or spaces or tabs, as a ground-truth line is copied) -> four floats; range checks happen
    against the first frame."""
    if placeholder_box(text) is not None:
        raise InputError(placeholder_box(text))
    parts = [p for p in re.split(r"[,\s]+", str(text).strip()) if p]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"--init {text!r} is not four numbers; pass --init x,y,w,h") from None
    if len(vals) != 4:
        raise InputError(f"--init {text!r} has {len(vals)} number{'' if len(vals) == 1 else 's'}, not 4; pass --init "
                         "x,y,w,h")
    return vals
