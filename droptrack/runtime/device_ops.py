"""Pre/post-processing of the official tracker written once in device-agnostic torch (CPU, CUDA, ...).

Every function takes tensors on one device and never copies to the host, so on CUDA the whole frame step
(crop, resize, normalise, Hann window, argmax, decode, map-back, clip) stays on the GPU and only the final
boxes and scores come back. The numbers follow `droptrack.geometry` (the numpy/OpenCV reference):

* crop window (`crop_sz`, `x1`, `y1`) and everything after decoding run in float64 on the same formulas as the
  reference (Python floats are float64, `round` is half-to-even like `torch.round`), so they are bit-exact;
* decoding runs in float32 like the reference's numpy arrays, so it is bit-exact too;
* the crop + bilinear resize (`quantize=True`, the default) repeats `cv2.resize`'s fixed-point INTER_LINEAR on
  uint8 in integer arithmetic: 11-bit weights (1/2048 steps) rounded as OpenCV rounds them, OpenCV's source
  coordinates and border handling, and its vectorised vertical pass (each row's sum shifted right by 4, multiplied
  by its weight keeping the high 16 bits, then (sum + 2) >> 2), which the x86 wheels of OpenCV 4.14 and 5.1 apply to
  every column (measured): the crops equal the host crops byte for byte (tests/test_device_crop_matches_opencv.py).
  A build that finished a row's last values with OpenCV's scalar formula ((sum + 2^21) >> 22) would differ there by
  one grey level, only where 3 x the output side is not a multiple of its vector width (the tracker's sizes are).
  The gather holds 4 source pixels per output pixel (~12 MB of temporaries per 384 px crop).
  `quantize=False` is the float alternative: one bilinear `grid_sample` over the float frame, unrounded.

Both crops have fixed output shapes (no data-dependent sizes, no host sync, CUDA-graph friendly); zero padding
and the official '+1' quirk (the last image column/row becomes padding when the crop reaches it) come from reading
frame[:H-1, :W-1] with zeros outside.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F

from droptrack.geometry import IMAGENET_MEAN, IMAGENET_STD, hann2d


def hann2d_t(size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Official cosine window (1,1,F,F) float32 on `device` (`geometry.hann2d`)."""
    return torch.from_numpy(hann2d(size)).to(device)


def _rdiv(num: float, t: torch.Tensor) -> torch.Tensor:
    """num / t rounded like Python (torch's `scalar / tensor` is `reciprocal * scalar`: 1 ulp off)."""
    return torch.full_like(t, num).div_(t)


def crop_windows(states: torch.Tensor, factor: float | torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N,4) float64 x,y,w,h -> crop side, x1, y1 (float64, integral values) of the official `sample_target`."""
    x, y, w, h = states.unbind(-1)
    crop_sz = torch.ceil(torch.sqrt(w * h) * factor)
    x1 = torch.round(x + 0.5 * w - crop_sz * 0.5)
    y1 = torch.round(y + 0.5 * h - crop_sz * 0.5)
    return crop_sz, x1, y1


def _sample_points(crop_sz: torch.Tensor, out_sz: int) -> torch.Tensor:
    """(N,S) crop coordinates of the output pixels, as cv2 INTER_LINEAR / F.interpolate(align_corners=False)."""
    # cv2: scale = 1 / (dsize / ssize) in double, fx = float((d + 0.5) * scale - 0.5), clamped to the patch
    scale = _rdiv(1.0, _rdiv(out_sz, crop_sz))                              # (N,) float64
    d = torch.arange(out_sz, device=crop_sz.device, dtype=torch.float64)
    src = ((d[None] + 0.5) * scale[:, None] - 0.5).float().clamp_min_(0.0)
    return torch.minimum(src, (crop_sz - 1).float()[:, None]).double()


COEF_BITS = 11   # cv2's INTER_RESIZE_COEF_BITS: bilinear weights in 1/2048 steps


def _taps(crop_sz: torch.Tensor, out_sz: int, clamp: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N,S) first source index (int64) and its two weights (int32, 1/2048 steps) of cv2's fixed-point INTER_LINEAR
    along one axis. Columns (`clamp`) before or past the patch take its edge pixel at full weight, as cv2 sets them;
    rows keep their fractional weights and read clipped rows (cv2's vertical table is not clamped)."""
    scale = _rdiv(1.0, _rdiv(out_sz, crop_sz))                              # (N,) float64, as cv2's scale
    d = torch.arange(out_sz, device=crop_sz.device, dtype=torch.float64)
    pos = ((d[None] + 0.5) * scale[:, None] - 0.5).float()                 # cv2: float((d + 0.5) * scale - 0.5)
    first = torch.floor(pos)
    frac = pos - first                                                      # exact in float32
    if clamp:
        last = (crop_sz - 1).float()[:, None]
        frac = frac.masked_fill((first < 0) | (first >= last), 0.0)
        first = torch.minimum(first.clamp_min(0.0), last)
    one = float(1 << COEF_BITS)
    w0 = torch.round((1.0 - frac) * one).int()                               # cvRound: half to even, as torch.round
    w1 = torch.round(frac * one).int()
    return first.long(), w0, w1


def _crop_fixed_point(frame: torch.Tensor, crop_sz: torch.Tensor, x1: torch.Tensor, y1: torch.Tensor,
                      out_sz: int) -> torch.Tensor:
    """(N,3,S,S) float32 integer crops equal to `cv2.resize` (INTER_LINEAR) of the zero-padded uint8 windows: every
    output pixel gathers its four source pixels (zero outside frame[:H-1, :W-1]) and combines them in integers."""
    H, W, C = (int(v) for v in frame.shape)
    sx, a0, a1 = _taps(crop_sz, out_sz, clamp=True)
    sy, b0, b1 = _taps(crop_sz, out_sz, clamp=False)
    last = (crop_sz - 1).long()[:, None, None]
    cols = torch.minimum(torch.stack([sx, sx + 1], -1), last) + x1.long()[:, None, None]          # (N,S,2) frame
    rows = torch.minimum(torch.stack([sy, sy + 1], -1).clamp_min(0), last) + y1.long()[:, None, None]
    # a pixel outside frame[:H-1, :W-1] reads 0: the same as giving its tap weight 0 (the sums below are linear)
    a = torch.stack([a0, a1], -1) * ((cols >= 0) & (cols < W - 1))                               # (N,S,2) int32
    b = torch.stack([b0, b1], -1) * ((rows >= 0) & (rows < H - 1))
    # every output pixel's four source pixels as one flat gather: (N, row, row tap, column tap, column, C)
    row_at, col_at = rows.clamp(0, H - 1).int() * W, cols.clamp(0, W - 1).int().transpose(1, 2)   # int32: H*W < 2^31
    at = row_at[:, :, :, None, None] + col_at[:, None, None]                                          # (N,S,2,2,S)
    pix = frame.reshape(H * W, C).index_select(0, at.reshape(-1)).reshape(*at.shape, C)
    pix = pix.int() if pix.is_floating_point() else pix                # a float frame holding integers
    # horizontal pass, exact in int32 (at most 255 * 2048)
    h = (pix[:, :, :, 0] * a[:, None, None, :, 0, None]).add_(pix[:, :, :, 1] * a[:, None, None, :, 1, None])
    # vertical pass as OpenCV's vector code: (h >> 4) * weight keeping the high 16 bits, then (sum + 2) >> 2
    h = h.bitwise_right_shift_(4)
    v = (h[:, :, 0] * b[:, :, 0, None, None]).bitwise_right_shift_(16)
    v.add_((h[:, :, 1] * b[:, :, 1, None, None]).bitwise_right_shift_(16)).add_(2).bitwise_right_shift_(2)
    return v.clamp_(0, 255).permute(0, 3, 1, 2).float()


def crop_resize(frame: torch.Tensor, states: torch.Tensor, factor: float | torch.Tensor, out_sz: int,
                quantize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Official `sample_target` for N boxes of one frame, as float values in [0,255].

    `quantize=True`: the uint8 bytes of `cv2.resize` on the zero-padded window (`_crop_fixed_point`), the host
    crop's exactly. `quantize=False`: the frame is converted to float once, then one bilinear `grid_sample` (zero
    padding) reads every crop, unrounded. Both read the crop window of the padded frame without materialising the
    variable-size padded patch. The '+1' quirk: the last image row and column are never image data (a crop
    reaching them pads them; a crop not reaching them never reads them), so the sampled image is
    frame[:H-1, :W-1] with zeros outside.

    Args:
        frame: (H,W,3) uint8 RGB image on the working device (float holding integers also works).
        states: (N,4) float64 boxes x,y,w,h on the same device.
        factor: crop side / sqrt(box area): one for all boxes, or an (N,) float64 tensor (one per box).
        out_sz: output side.
        quantize: OpenCV's fixed-point uint8 resize (the reference's bytes) instead of the float interpolation.

    Returns:
        (N,3,S,S) float32 crops and the (N,) float64 resize factors out_sz / crop_sz.
    """
    H, W = int(frame.shape[0]), int(frame.shape[1])
    crop_sz, x1, y1 = crop_windows(states, factor)
    if quantize:
        return _crop_fixed_point(frame, crop_sz, x1, y1, out_sz), _rdiv(out_sz, crop_sz)
    src = _sample_points(crop_sz, out_sz)
    gx = (src + x1[:, None]) * (2.0 / max(W - 2, 1)) - 1.0      # align_corners=True over W-1 columns
    gy = (src + y1[:, None]) * (2.0 / max(H - 2, 1)) - 1.0
    n = states.shape[0]
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1).float()
    image = frame[: H - 1, : W - 1].permute(2, 0, 1)[None].float()
    out = F.grid_sample(image, grid.reshape(1, n * out_sz, out_sz, 2), mode="bilinear", padding_mode="zeros",
                        align_corners=True)
    return out.reshape(3, n, out_sz, out_sz).transpose(0, 1), _rdiv(out_sz, crop_sz)


class Normalizer:
    """(x/255 - mean)/std of (N,3,S,S) crops straight into a preallocated float32 buffer."""

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD, device: torch.device | str = "cpu"):
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).reshape(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).reshape(1, 3, 1, 1)
        self._buf: torch.Tensor | None = None

    def __call__(self, crops: torch.Tensor, reuse: bool = True) -> torch.Tensor:
        """Normalise into the buffer (reallocated only when the batch or size changes)."""
        shape = tuple(crops.shape)
        buf = self._buf
        if not reuse or buf is None or tuple(buf.shape) != shape:
            buf = torch.empty(shape, dtype=torch.float32, device=crops.device)
            if reuse:
                self._buf = buf
        buf.copy_(crops)
        return buf.div_(255.0).sub_(self.mean).div_(self.std)


def decode(response: torch.Tensor, size_map: torch.Tensor, offset_map: torch.Tensor):
    """Official `cal_bbox` on the windowed map: (N,4) float32 (cx,cy,w,h) in crop units and (N,) peaks."""
    n, _, f, _ = response.shape
    flat = response.reshape(n, -1)
    idx = flat.argmax(dim=1)   # first maximum, like numpy.argmax
    peak = flat.gather(1, idx[:, None])[:, 0]
    iy = torch.div(idx, f, rounding_mode="floor")
    ix = idx - iy * f
    g = idx[:, None, None].expand(n, 2, 1)
    off = offset_map.reshape(n, 2, -1).gather(2, g)[..., 0]
    size = size_map.reshape(n, 2, -1).gather(2, g)[..., 0]
    fs = float(f)
    cx = (ix.float() + off[:, 0]) / fs
    cy = (iy.float() + off[:, 1]) / fs
    return torch.stack([cx, cy, size[:, 0], size[:, 1]], dim=1), peak


def map_back_clip(boxes: torch.Tensor, states: torch.Tensor, resize: torch.Tensor, search_size: int,
                  image_hw: tuple[int, int], margin: int = 10) -> torch.Tensor:
    """Crop-unit (cx,cy,w,h) float32 -> clipped image x,y,w,h float64 (reference `map_box_back` + `clip_box`)."""
    # pixels in the crop, computed in float32 like the reference (numpy float32 * int / float -> float32)
    pred = ((boxes * float(search_size)) / resize.float()[:, None]).double()
    cx, cy, w, h = pred.unbind(-1)
    cx_prev = states[:, 0] + 0.5 * states[:, 2]
    cy_prev = states[:, 1] + 0.5 * states[:, 3]
    half = _rdiv(0.5 * search_size, resize)
    x = cx + (cx_prev - half) - 0.5 * w
    y = cy + (cy_prev - half) - 0.5 * h
    H, W = image_hw
    x2, y2 = x + w, y + h
    mx, my = min(margin, W), min(margin, H)   # as `clip_box`: frames under `margin` px keep the box inside
    x = x.clamp(min=0).clamp(max=W - mx)
    x2 = x2.clamp(min=mx).clamp(max=W)
    y = y.clamp(min=0).clamp(max=H - my)
    y2 = y2.clamp(min=my).clamp(max=H)
    return torch.stack([x, y, (x2 - x).clamp(min=mx), (y2 - y).clamp(min=my)], dim=1)
