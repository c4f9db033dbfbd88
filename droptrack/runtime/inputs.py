"""What the Python API takes from callers' code, checked and converted once at its entry points.

Frames: RGB uint8 arrays of shape (H, W, 3) (OpenCV's BGR flipped with `bgr[:, :, ::-1]`, or declared with the
tracker's `channels='bgr'`). Also taken, converted
without guessing: grayscale (H, W) or (H, W, 1) (the channel repeated), RGBA (H, W, 4) (alpha dropped), PIL images
(`.convert('RGB')`), torch tensors (H, W, C) on any device; any strides, read-only or not. Everything else (float,
16-bit, bool, channels-first, a batch, a list) is one InputError naming the problem and the conversion to use.
Boxes: four numbers x, y, w, h in pixels (top-left corner, width, height) as a list, tuple, NumPy array or tensor;
xyxy boxes cannot be told apart from xywh ones, so they are not guessed at.
"""

from __future__ import annotations

import math
import numbers
import operator
import os
import re
from collections.abc import Mapping
from typing import Any, Sequence, Union

import numpy as np

from droptrack.engine.base import OUTPUT_NAMES
from droptrack.errors import (ArgumentTypeError, BackendError, InputError, TargetIndexError, TrackerStateError,
                              cut)
from droptrack.geometry import check_box_size

BoxLike = Union[Sequence[float], np.ndarray, Any]   # x, y, w, h in pixels (a list, tuple, array or torch tensor)
BoxesLike = Union[Sequence[BoxLike], np.ndarray, Any]   # several boxes: a list of them or an (N, 4) array
FRAME = "an RGB uint8 array of shape (H, W, 3)"
BOX = "four numbers x, y, w, h in pixels (top-left corner, width, height)"
MIN_SIDE = 2   # the official crop drops the frame's last row and column where its window passes them
PIL_MODES_WIDE = ("I", "F")   # 32-bit int / float PIL images (and 'I;16...'): no 8-bit reading of theirs is obvious


def _brief(value: Any) -> str:
    """repr of a caller's value on one line, cut to 80 characters (a NumPy array's repr spans lines, a list may be
    long)."""
    return cut(" ".join(repr(value).split()))


def _from_tensor(frame) -> np.ndarray:
    """A torch tensor -> NumPy on the host (a view for CPU tensors); one NumPy cannot hold (bfloat16, sparse, meta,
    quantized) is refused in one line, as every other non-uint8 frame."""
    import torch

    if frame.layout != torch.strided or frame.is_quantized or frame.is_meta:
        raise InputError(f"frame is a {str(frame.layout).replace('torch.', '')}{' quantized' * frame.is_quantized}"
                         f"{' meta' * frame.is_meta} tensor; pass {FRAME} (a dense uint8 tensor or array)")
    if frame.dtype != torch.uint8:
        raise InputError(f"frame has dtype {str(frame.dtype).replace('torch.', 'torch ')}; the tracker takes {FRAME} "
                         f"with values 0..255: {_dtype_fix(frame.dtype, tensor=True)}")
    return frame.detach().cpu().numpy()


def _from_pil(frame) -> np.ndarray:
    """A PIL image -> (H, W, 3) uint8 RGB through PIL's own conversion (palette, L, LA, RGBA, CMYK, YCbCr...)."""
    mode = str(frame.mode)
    if mode in PIL_MODES_WIDE or mode.startswith("I;"):
        code, data = (("np.clip(np.asarray(img) * 255, 0, 255)", "floats in 0..1") if mode == "F" else   # no '>>'
                      ("np.asarray(img) >> 8", "16-bit data") if mode.startswith("I;16") else
                      ("np.clip(np.asarray(img), 0, 255)", "levels in 0..255"))
        raise InputError(f"frame is a PIL image of mode '{mode}' (more than 8 bits per pixel); scale it to 8 bits "
                         f"first, e.g. Image.fromarray(({code}).astype(np.uint8)) for {data}")
    try:
        return np.asarray(frame.convert("RGB"))
    except ValueError:   # a mode Pillow has no RGB conversion for (premultiplied 'La', ...)
        raise InputError(f"frame is a PIL image of mode '{mode}', which Pillow cannot convert to RGB; convert it "
                         "yourself first (e.g. img.convert('LA') for 'La')") from None


def _dtype_fix(dtype: Any, tensor: bool = False) -> str:
    """How to turn a frame of `dtype` (NumPy's, or torch's with `tensor`) into uint8 (the fix part of the error)."""
    if tensor:
        name = str(dtype)
        if "float" in name:
            return ("scale it yourself: (frame * 255).round().to(torch.uint8) for values in [0, 1], "
                    "frame.clamp(0, 255).round().to(torch.uint8) for values in [0, 255]")
        return ("a bool mask is not an image; pass the video frame itself" if name == "torch.bool" else
                "convert it to 8 bits (values 0..255), e.g. frame.clamp(0, 255).to(torch.uint8) if they already are")
    if dtype.kind == "f":
        return ("scale it yourself: (frame * 255).round().astype(np.uint8) for values in [0, 1], "
                "frame.clip(0, 255).round().astype(np.uint8) for values in [0, 255]")
    if dtype.kind == "b":
        return "a bool mask is not an image; pass the video frame itself"
    if dtype.kind == "u" and dtype.itemsize == 2:   # '>u2' (big-endian) too
        return "scale it to 8 bits, e.g. (frame >> 8).astype(np.uint8) for 16-bit data ((frame >> 4) for 12-bit)"
    return "convert it to 8 bits (values 0..255), e.g. frame.clip(0, 255).astype(np.uint8) if they already are"


def check_channels(channels: str) -> bool:
    """The channel order of the caller's arrays and tensors, 'rgb' or 'bgr' (OpenCV's) -> whether it is BGR."""
    text = channels.strip().lower() if isinstance(channels, str) else None
    if text not in ("rgb", "bgr"):
        raise InputError(f"channels={_brief(channels)} must be 'rgb' or 'bgr' (OpenCV's cv2.imread / VideoCapture "
                         "order)")
    return text == "bgr"


def check_lost_threshold(threshold: float) -> float:
    """The score under which a result is flagged lost, a number in [0, 1] (scores are; 0 disables the flag)."""
    ok = isinstance(threshold, (int, float, np.floating, np.integer)) and not isinstance(threshold, bool)
    if not ok or not 0 <= threshold <= 1:   # NaN fails the range too; 25 (a percentage) would flag every frame
        raise InputError(f"lost_threshold={_brief(threshold)} must be a score between 0 and 1, e.g. 0.25 (0 "
                         "disables the lost flag)")
    return float(threshold)


def as_frame(frame: np.ndarray | Any, bgr: bool = False) -> np.ndarray:
    """The frame as (H, W, 3) uint8 RGB (a view when it already is one); one-line InputError otherwise. `bgr`: arrays
    and tensors hold BGR / BGRA (OpenCV's order; a view flips them); PIL images are RGB whatever it says."""
    kind = type(frame).__module__.split(".")[0]
    if kind == "torch" and hasattr(frame, "detach"):
        frame = _from_tensor(frame)
    elif kind == "PIL" and hasattr(frame, "convert"):
        frame, bgr = _from_pil(frame), False
    if frame is None:   # what cv2.VideoCapture.read() past the end and cv2.imread of a bad path return
        raise InputError("frame is None, not an image: no frame was read (cv2.VideoCapture.read() returns (False, "
                         "None) past the end or on a decode error, cv2.imread None for a missing file); check ok / "
                         "the path before tracking")
    if not isinstance(frame, np.ndarray):
        raise InputError(f"frame is a {type(frame).__name__}, not an image; pass {FRAME} (np.asarray(img) for a "
                         "PIL image, cv2.imread(...)[:, :, ::-1] for a file)")
    shape = tuple(frame.shape)
    if frame.dtype != np.uint8:
        raise InputError(f"frame has dtype {frame.dtype}; the tracker takes {FRAME} with values 0..255: "
                         f"{_dtype_fix(frame.dtype)}")
    if frame.ndim == 3 and shape[2] not in (1, 3, 4) and shape[0] in (1, 3, 4):
        raise InputError(f"frame of shape {shape} is channels-first (C, H, W); pass (H, W, C): "
                         "frame.transpose(1, 2, 0) for an array, tensor.permute(1, 2, 0) for a tensor")
    if frame.ndim == 4 and shape[0] == 1:
        raise InputError(f"frame of shape {shape} is a batch of one; pass the frame itself (batch[0])")
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and shape[2] not in (1, 3, 4)):
        raise InputError(f"frame of shape {shape} is not an image; pass {FRAME} (grayscale (H, W) and RGBA "
                         "(H, W, 4) are converted)")
    if min(shape[:2]) < MIN_SIDE:
        raise InputError(f"frame of {shape[1]}x{shape[0]} pixels is too small to track in; frames need at least "
                         f"{MIN_SIDE}x{MIN_SIDE} pixels")
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    if shape[2] == 1:
        return np.repeat(frame, 3, axis=2)
    if bgr:
        return frame[:, :, 2::-1]
    return frame[:, :, :3] if shape[2] == 4 else frame


def as_box(box: BoxLike) -> list[float]:
    """One box -> four finite floats (x, y, w, h in pixels); its place in the frame is checked by
    `geometry.validate_init_box`."""
    if isinstance(box, (str, bytes)):
        raise InputError(f"box {_brief(box)} is text; pass {BOX}, e.g. (60, 40, 30, 30)")
    if isinstance(box, Mapping):   # iterating it would read its keys as the numbers ({0: x, 1: y, ...})
        raise InputError(f"box {_brief(box)} is a {type(box).__name__}; pass {BOX} in that order, e.g. "
                         "(d['x'], d['y'], d['w'], d['h'])")
    shape = getattr(box, "shape", None)
    if shape is not None and len(shape) != 1:
        raise InputError(f"box has shape {tuple(shape)}; pass one box of {BOX} (several: initialize_many with a list "
                         "of boxes)")
    try:
        items = list(box)
    except TypeError:
        raise InputError(f"box {_brief(box)} is not {BOX}") from None
    odd = next((v for v in items if isinstance(v, (str, bytes, bool)) or str(getattr(v, "dtype", "")).endswith("bool")),
               None)
    if odd is not None:   # float('60') and float(True) read them as numbers: a parsing slip went unseen
        what = "text" if isinstance(odd, (str, bytes)) else "True / False"
        raise InputError(f"box {_brief(box)} holds {what}, not numbers; pass {BOX}, e.g. (60, 40, 30, 30)")
    try:   # a tensor that requires grad: detached, not converted with torch's warning
        vals = [float(v.detach() if hasattr(v, "detach") else v) for v in items]
    except (TypeError, ValueError):
        raise InputError(f"box {_brief(box)} is not {BOX}") from None
    if len(vals) != 4:
        raise InputError(f"box {_brief(vals)} has {len(vals)} number{'' if len(vals) == 1 else 's'}; pass {BOX}")
    if not all(math.isfinite(v) for v in vals):
        raise InputError(f"box {vals} is not finite (nan or inf); pass {BOX}")
    return vals


def _is_number(v: Any) -> bool:
    """A Python or NumPy number, or a 0-d array or tensor."""
    return isinstance(v, numbers.Number) or (getattr(v, "shape", None) is not None and len(v.shape) == 0)


def as_boxes(boxes: BoxesLike) -> list[list[float]]:
    """Several boxes (a list of boxes or an (N, 4) array) -> lists of four floats; a lone box or none is an error."""
    if isinstance(boxes, Mapping):   # iterating it would read its keys as the boxes
        raise InputError(f"boxes is a {type(boxes).__name__} ({_brief(boxes)}); pass a list of boxes [box, ...] "
                         f"(list(d.values()) for a dict of them), each {BOX}; targets are indexed in list order")
    shape = getattr(boxes, "shape", None)
    if isinstance(boxes, (str, bytes)) or (shape is not None and len(shape) != 2):
        what = "is one box, not a list of boxes" if shape is not None and tuple(shape) == (4,) else \
            "is not a list of boxes"
        raise InputError(f"boxes {_brief(boxes)} {what}; pass [box, ...] or an (N, 4) array of {BOX} "
                         "(one target: initialize(frame, box))")
    try:
        boxes = list(boxes)
    except TypeError:
        raise InputError(f"boxes {_brief(boxes)} is not a list of boxes; pass [box, ...], each {BOX}") from None
    if len(boxes) == 4 and all(_is_number(v) for v in boxes):
        raise InputError(f"boxes {_brief(boxes)} is one box, not a list of boxes; pass [box] (or "
                         "initialize(frame, box))")
    if not boxes:
        raise InputError(f"no boxes given; pass at least one box of {BOX}")
    return [as_box(b) for b in boxes]


def _warn_at_caller(message: str, category: type[Warning]) -> None:
    """warnings.warn pointing at the first caller outside droptrack.runtime (the user's initialize line)."""
    import sys
    import warnings

    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("droptrack.runtime"):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def check_init_targets(frame: np.ndarray, states: list[list[float]]) -> None:
    """dt run's checks of its --init boxes, for the Python API's trackers (`load_tracker`, `init_checks=True`): a box
    under 1 px wide or high is an InputError (the tracker would follow nothing); one on pixels of one colour (a black,
    fading-in frame: Megamind.avi's first) is a FlatTargetWarning, one that reads as corners x1,y1,x2,y2 a
    CornerBoxWarning. `frame`: RGB uint8 (H, W, 3); `states`: the validated x, y, w, h boxes."""
    from droptrack.errors import CornerBoxWarning, FlatTargetWarning
    from droptrack.runtime.checks import corner_box_note, flat_target_note

    for b in states:
        check_box_size(b, f"init box {_brief(b)}")
    flat = flat_target_note(frame, states, None, "initialize on a frame that shows the target")
    if flat:
        _warn_at_caller(flat, FlatTargetWarning)
    corners = corner_box_note(states, frame.shape[:2], api=True)
    if corners:
        _warn_at_caller(corners, CornerBoxWarning)


def no_boxes(boxes: BoxesLike) -> bool:
    """An empty list, tuple or (0, 4) array or tensor of boxes (`add_targets` with nothing to add); an empty array of
    another shape ((0,), (0, 3)) is an InputError, as `as_boxes` refuses a non-empty one of that shape."""
    shape = getattr(boxes, "shape", None)
    if shape is None:
        return isinstance(boxes, (list, tuple)) and not boxes
    shape = tuple(shape)
    if 0 in shape and shape != (0, 4):
        raise InputError(f"boxes of shape {shape} is not a list of boxes; pass [box, ...] or an (N, 4) array of "
                         f"{BOX} (none: [] or an array of shape (0, 4))")
    return shape == (0, 4)


def _tracked(count: int) -> str:
    """Which target indices exist: '2 targets tracked (0..1)' or 'no targets are tracked'."""
    return f"{count} target{'' if count == 1 else 's'} tracked (0..{count - 1})" if count else "no targets are tracked"


def target_index(index: int, count: int) -> int:
    """`index` (0-based in initialisation order; negative counts from the end, as for lists) -> 0..count-1. A bool
    (an int to Python: True would be target 1) or a bool tensor is refused, as are floats and text."""
    is_bool = isinstance(index, (bool, np.bool_)) or str(getattr(index, "dtype", "")).endswith("bool")
    try:
        i = None if is_bool else operator.index(index)
    except TypeError:
        i = None
    if i is None:
        raise ArgumentTypeError(f"target index {_brief(index)} must be an int{', not a bool' if is_bool else ''} "
                                f"(0-based, in initialisation order): {_tracked(count)}")
    if not -count <= i < count:
        raise TargetIndexError(f"target index {i} is out of range: {_tracked(count)}" if count
                               else f"target index {i}: no targets are tracked")
    return i % count


def check_path(value: str | os.PathLike | None, what: str, none: str) -> str | os.PathLike | None:
    """A model or config given as a path (str or os.PathLike, not empty) or None (`none` says what None means);
    a one-line InputError for anything else (an int, bytes, a dict: os.fspath's TypeError from deep inside)."""
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if value is None or (isinstance(text, str) and text.strip()):
        return value
    raise InputError(f"{what}={_brief(value)} is not a file path; pass a str or pathlib.Path ({none})")


def check_device(device: str) -> str:
    """'cpu', 'cuda' or 'cuda:N' (any case, 'cpu:0' too, or a torch.device) -> its lower-case form; one-line
    InputError otherwise."""
    if type(device).__module__.split(".")[0] == "torch":   # torch.device('cuda', 0) reads 'cuda:0'
        device = str(device)
    text = str(device).strip().lower() if isinstance(device, str) else None
    if text is None or not re.fullmatch(r"cpu(:0)?|cuda(:\d+)?", text):
        raise InputError(f"device {_brief(device)} is not supported; pass device='cpu' or device='cuda' (or 'cuda:N')")
    return "cpu" if text.startswith("cpu") else text


def check_threads(threads: int) -> int:
    """ONNX Runtime's thread count: an int >= 0 (0 = its default)."""
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 0:
        raise InputError(f"threads={_brief(threads)} must be an int >= 0 (0 = ONNX Runtime's default)")
    return int(threads)


def check_frame_size(started_hw: tuple[int, int] | None, frame_hw: tuple[int, int]) -> None:
    """FrameSizeWarning when a frame to track is not the size of the frame the targets were started in (`dt run` notes
    it in its summary; the Python API tracked it without a word). Python shows each size pair once."""
    if started_hw is None or tuple(frame_hw) == tuple(started_hw):
        return
    import warnings

    from droptrack.errors import FrameSizeWarning

    (h0, w0), (h, w) = started_hw, frame_hw
    warnings.warn(f"this frame is {w}x{h} but the targets were started in a {w0}x{h0} frame: their boxes, in that "
                  "frame's pixels, are tracked and clipped in this one; resize every frame to one size, or initialize "
                  "again in a frame of this size", FrameSizeWarning, stacklevel=2)


def check_same_targets(pre: tuple | None, targets: int) -> None:
    """An InputError when targets were added or removed since the last `preprocess` (`pre`: its frame size, crop
    count and the tracker's count of target-set changes; now `targets`): its crops are another set's, which infer and
    postprocess would pair with these targets' templates and states (a target swapped for another: the same count)."""
    if pre is not None and pre[2] != targets:
        raise InputError("the search crops of the last preprocess() are another set of targets': preprocess the frame "
                         "again after adding or removing targets")


def check_post_args(out: Mapping, factors: Any, image_hw: tuple[int, int],
                    pre: tuple[tuple[int, int], int, int] | None, crops_now: int, targets: int) -> Mapping:
    """`postprocess`'s arguments checked before decoding: `infer`'s dict of score, size and offset maps, one resize
    factor per crop (`preprocess`'s) and the frame's (H, W), against `pre` (the frame size, crop count and target-set
    count of the last `preprocess`), `crops_now` (the targets' crops now) and `targets` (the target-set count now:
    targets added or removed since made the crops another set's); else one InputError naming the fix."""
    missing = [k for k in OUTPUT_NAMES if not isinstance(out, Mapping) or k not in out]
    if missing:
        what = f"a {type(out).__name__}" if not isinstance(out, Mapping) else f"missing {', '.join(missing)}"
        raise InputError(f"postprocess takes the dict infer() returned; got {what}: pass tracker.infer(search)")
    if pre is None:
        raise TrackerStateError("postprocess decodes the crops of this tracker's preprocess(frame); call it (and "
                                "infer) first")
    crops = len(out["score_map"])
    check_same_targets(pre, targets)
    if getattr(factors, "__len__", None) is None or len(factors) != crops or crops != pre[1] or crops_now != crops:
        raise InputError(f"postprocess needs the {pre[1]} crops and resize factors of the last preprocess(), got "
                         f"{crops} crops and {_brief(factors)}; preprocess the frame again after adding or removing "
                         "targets")
    if not hasattr(factors, "detach"):   # a DeviceTracker's are its own tensor on the device
        try:
            ok = all(math.isfinite(float(f)) and float(f) > 0 for f in factors)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"resize factors {_brief(factors)} are not numbers > 0; pass those preprocess() returned")
    try:
        hw = [operator.index(v) for v in image_hw]
    except TypeError:
        hw = []
    if len(hw) != 2 or min(hw) < 1 or tuple(hw) != tuple(pre[0]):
        raise InputError(f"image_hw {_brief(image_hw)} is not the (height, width) {tuple(pre[0])} of the frame "
                         "preprocess() read; pass frame.shape[:2]")
    return out


def check_decoded(boxes: Any, peaks: Any) -> None:
    """A frame's decoded boxes and peak scores (host arrays): finite, else a BackendError before any state changes
    (a reduced-precision model that overflowed returns NaN / inf maps, which decoded to 10 x 10 boxes at the
    corner, or failed deep in the anchor)."""
    if not (np.isfinite(boxes).all() and np.isfinite(peaks).all()):
        raise BackendError("the model returned a non-finite box or score (NaN/Inf) for this frame; the targets keep "
                           "their states: the model file is broken or a reduced-precision one overflowed: re-export "
                           "it, or run the FP32 model")


def joined_templates(running: Any, new: Any) -> Any:
    """The running targets' templates, then `new`'s (add_targets), as the tracker keeps them: arrays or tensors."""
    if hasattr(new, "detach"):
        import torch

        return torch.cat([running, new], 0)
    return np.concatenate([running, new], axis=0)


def repeated_templates(templates: Any, counts: list[int]) -> Any:
    """Each target's template `counts[i]` times in a row, the batch that goes with its search crops (scale search;
    SCALE_GATE: each target's own count), arrays or tensors. A tensor's rows are expanded and joined on its device:
    indexing a CUDA tensor with a list uploads the list, a host sync per frame. All counts 1 (or none): `templates`."""
    if max(counts, default=1) == 1:
        return templates
    if not hasattr(templates, "detach"):
        return np.repeat(templates, counts, axis=0)
    if len(set(counts)) == 1:
        return templates.repeat_interleave(counts[0], 0)
    import torch

    return torch.cat([templates[i:i + 1].expand(n, *templates.shape[1:]) for i, n in enumerate(counts)], 0)
