"""The Python API with the frames real callers pass (README 'In your own Python code'): what is converted gives
exactly the boxes of its RGB uint8 (H, W, 3) equivalent, on the host Tracker and on the DeviceTracker (CPU); what
cannot be read without guessing is one InputError naming the problem and the conversion, with the tracker
unchanged."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from droptrack.errors import InputError
from droptrack.geometry import box_iou
from droptrack.runtime.run import build_tracker
from helpers import drifting_square_clip

BOX = (60, 40, 30, 30)


@pytest.fixture(scope="module", params=["host", "device"])
def tracker(request, tiny_ckpt):
    """The tiny checkpoint's host Tracker and its DeviceTracker (pre/post as torch ops on the CPU)."""
    return build_tracker(str(tiny_ckpt), None, "cpu", pre=request.param)


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    """Three 120x160 RGB frames: a textured square drifting on noise."""
    return drifting_square_clip(1)


def run(tracker, frames, box=BOX) -> list[list[float]]:
    """Initialise on frames[0], track the rest: the boxes (and scores) as plain lists."""
    tracker.initialize(frames[0], box)
    return [[*b, s] for b, s in (tracker.track(f) for f in frames[1:])]


def test_grayscale_frames_track_as_their_three_channel_copy(tracker, clip):
    gray = [f[:, :, 1].copy() for f in clip]
    expected = run(tracker, [np.stack([g] * 3, -1) for g in gray])
    assert run(tracker, gray) == expected                              # (H, W)
    assert run(tracker, [g[:, :, None] for g in gray]) == expected     # (H, W, 1)


def test_rgba_frames_track_as_their_rgb_part(tracker, clip):
    alpha = np.random.default_rng(2).integers(0, 256, clip[0].shape[:2] + (1,), dtype=np.uint8)
    assert run(tracker, [np.concatenate([f, alpha], -1) for f in clip]) == run(tracker, clip)


def test_views_and_read_only_frames_track_as_contiguous_copies(tracker, clip):
    bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in clip]
    flipped = [b[:, :, ::-1] for b in bgr]                             # the README's BGR -> RGB view
    assert flipped[0].strides[2] < 0
    assert run(tracker, flipped) == run(tracker, [np.ascontiguousarray(f) for f in flipped])
    wide = [np.pad(f, ((7, 5), (11, 3), (0, 0))) for f in clip]
    crops = [w[7:-5, 11:-3] for w in wide]                             # a cropped view: rows not contiguous
    assert not crops[0].flags.c_contiguous
    assert run(tracker, crops) == run(tracker, clip)
    every_other = [np.repeat(f, 2, axis=1)[:, ::2] for f in clip]      # a column stride of two pixels
    assert run(tracker, every_other) == run(tracker, clip)
    frozen = [f.copy() for f in clip]
    for f in frozen:
        f.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                 # torch warned about read-only arrays
        assert run(tracker, frozen) == run(tracker, clip)


def test_torch_tensors_and_pil_images_track_as_their_arrays(tracker, clip):
    assert run(tracker, [torch.from_numpy(f) for f in clip]) == run(tracker, clip)
    Image = pytest.importorskip("PIL.Image")
    assert run(tracker, [Image.fromarray(f) for f in clip]) == run(tracker, clip)
    gray = [f[:, :, 0].copy() for f in clip]
    assert run(tracker, [Image.fromarray(g) for g in gray]) == run(tracker, gray)   # mode 'L'


@pytest.mark.parametrize("make, words", [
    (lambda f: f.astype(np.float32) / 255, ["dtype float32", "(frame * 255).round().astype(np.uint8)"]),
    (lambda f: f.astype(np.float32), ["dtype float32", "frame.clip(0, 255).round().astype(np.uint8)"]),
    (lambda f: f.astype(np.float64), ["dtype float64", "astype(np.uint8)"]),
    (lambda f: f.astype(np.uint16) * 257, ["dtype uint16", "(frame >> 8).astype(np.uint8)"]),
    (lambda f: f > 128, ["dtype bool", "not an image"]),
    (lambda f: f.astype(np.int64), ["dtype int64", "astype(np.uint8)"]),
    (lambda f: np.ascontiguousarray(f.transpose(2, 0, 1)), ["(3, 120, 160) is channels-first", "transpose(1, 2, 0)"]),
    (lambda f: torch.from_numpy(f).permute(2, 0, 1), ["(3, 120, 160) is channels-first", "permute(1, 2, 0)"]),
    (lambda f: f[None], ["batch of one", "batch[0]"]),
    (lambda f: f[:, :, :2], ["(120, 160, 2) is not an image", "(H, W, 3)"]),
    (lambda f: f[0, 0], ["(3,) is not an image", "(H, W, 3)"]),
    (lambda f: f.tolist(), ["frame is a list", "(H, W, 3)"]),
    (lambda f: f[:1, :1], ["1x1 pixels is too small", "at least 2x2"]),
    (lambda f: f[:, :0], ["0x120 pixels is too small", "at least 2x2"]),
    # torch dtypes NumPy cannot hold were a TypeError traceback; a tensor's fix is worded for tensors
    (lambda f: torch.from_numpy(f).to(torch.bfloat16), ["dtype torch bfloat16", ".to(torch.uint8)"]),
    (lambda f: torch.from_numpy(f).float() / 255, ["dtype torch float32", "(frame * 255).round().to(torch.uint8)"]),
    (lambda f: torch.from_numpy(f).to_sparse(), ["sparse_coo tensor", "dense uint8"]),
    # big-endian 16-bit
    (lambda f: (f.astype(np.uint16) * 257).astype(">u2"), ["dtype >u2", "(frame >> 8).astype(np.uint8)"]),
])
def test_frames_that_need_a_guess_are_one_clear_error(tracker, clip, make, words):
    bad = make(clip[0])
    with pytest.raises(InputError) as err:
        tracker.initialize(bad, (0, 0, 2, 2))   # a box that fits even a (3, H, W) frame read as H=3
    assert all(w in str(err.value) for w in words), str(err.value)
    assert "\n" not in str(err.value)
    tracker.initialize(clip[0], BOX)
    before = [list(s) for s in tracker.states]
    with pytest.raises(InputError) as again:
        tracker.track(bad)
    assert str(again.value).split(";")[0] == str(err.value).split(";")[0]
    assert [list(s) for s in tracker.states] == before                 # nothing changed
    assert run(tracker, clip) == run(build_tracker_like(tracker), clip)


def build_tracker_like(tracker):
    """A fresh tracker of the same kind on the same backend (no state carried over)."""
    kind = type(tracker)
    return kind(tracker.backend) if kind.__name__ == "Tracker" else kind(tracker.backend, device="cpu")


def test_pil_images_of_more_than_8_bits_are_refused(tracker):
    Image = pytest.importorskip("PIL.Image")
    img = Image.fromarray(np.full((40, 50), 40000, dtype=np.uint16))
    with pytest.raises(InputError, match=r"mode 'I;16.*scale it to 8 bits"):
        tracker.initialize(img, (5, 5, 10, 10))


def test_a_pil_mode_without_an_rgb_conversion_is_one_input_error(tracker):
    Image = pytest.importorskip("PIL.Image")
    img = Image.fromarray(np.zeros((40, 50, 2), np.uint8)).convert("La")   # premultiplied alpha
    with pytest.raises(InputError, match=r"mode 'La'.*cannot convert to RGB"):
        tracker.initialize(img, (5, 5, 10, 10))


def test_a_frame_smaller_than_the_crop_gives_the_whole_frame(tracker):
    """Search crop 4 x 4 px = 16 px on an 8x8 frame: zero padding, and the official clip (at least 10 px, or the
    whole side of a smaller frame) leaves exactly the frame."""
    f = np.random.default_rng(3).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    tracker.initialize(f, (2, 2, 4, 4))
    box, score = tracker.track(f)
    assert box == [0, 0, 8, 8] and np.isfinite(score)
    two = f[:2, :2]                                                    # the smallest frame taken
    tracker.initialize(two, (0, 0, 1, 1))
    assert tracker.track(two)[0] == [0, 0, 2, 2]


def test_frames_that_change_size_keep_the_box_in_pixels_and_inside_the_new_frame(tracker, clip):
    tracker.initialize(clip[0], BOX)
    small = clip[1][:50, :70]
    box, _ = tracker.track(small)
    x, y, w, h = box
    assert 0 <= x <= 70 - 10 and 0 <= y <= 50 - 10          # the official clip: >= 10 px of it inside the frame
    assert x + w >= 10 and y + h >= 10 and x + w <= 70 and y + h <= 50
    big = np.zeros((400, 500, 3), np.uint8)
    big[:120, :160] = clip[2]
    assert all(np.isfinite(tracker.track(big)[0]))


def test_a_frame_the_search_window_misses_is_tracked_as_padding_not_refused(tracker, clip):
    """A frame too small to reach the box's search window (a 60x30 thumbnail after 160x120 frames; the box at x 120,
    y 80, its 120 px window from x 75, y 35): the window is all zero padding, as the device crop reads it, and the
    box is clipped into the frame. The host crop raised 'box ... lies outside the 60x30 image; give a box inside the
    frame', naming an input the caller never gave."""
    corner = (120, 80, 30, 30)
    tracker.initialize(clip[0], corner)
    box, score = tracker.track(clip[1][:30, :60])
    x, y, w, h = box
    assert 0 <= x <= 60 - 10 and 0 <= y <= 30 - 10 and x + w <= 60 and y + h <= 30, box
    assert np.isfinite(score)
    from droptrack.runtime.device_tracker import DeviceTracker
    from droptrack.runtime.tracker import Tracker

    host = type(tracker).__name__ == "Tracker"   # the other path is the reference
    other = DeviceTracker(tracker.backend, device="cpu") if host else Tracker(tracker.backend)
    other.initialize(clip[0], corner)
    assert box_iou(other.track(clip[1][:30, :60])[0], box)[0] > 0.99
    assert all(np.isfinite(tracker.track(clip[2])[0]))   # and back to the full frame


def test_a_huge_frame_tracks_like_the_frame_it_contains(tracker):
    """A 400x400 frame whose search window (160 px around a 40 px box in its middle) and every box the head can
    predict lie inside it, embedded in a 3000x4000 frame: same pixels in every crop, same clip, same boxes."""
    rng = np.random.default_rng(4)
    f = rng.integers(0, 80, (400, 400, 3), dtype=np.uint8)
    f[180:220, 180:220] = 220
    g = f.copy()
    g[183:223, 181:221], g[180:183, 180:220] = 220, 30
    box0 = (180, 180, 40, 40)
    tracker.initialize(f, box0)
    small = tracker.track(g)
    huge_f, huge_g = np.zeros((3000, 4000, 3), np.uint8), np.zeros((3000, 4000, 3), np.uint8)
    huge_f[:400, :400], huge_g[:400, :400] = f, g
    tracker.initialize(huge_f, box0)
    assert tracker.track(huge_g) == small   # both crops read pixels by integer index (the device crop's float
    # grid, normalised by the frame's size, had moved rounded pixels by a grey level)
    x, y, w, h = small[0]
    assert 40 <= x and x + w <= 360 and 40 <= y and y + h <= 360       # nowhere near the small frame's edges


@pytest.mark.parametrize("array, mode", [(np.full((40, 50), 0.5, np.float32), "F"),
                                         (np.full((40, 50), 300, np.int32), "I"),
                                         (np.full((40, 50), 40000, np.uint16), "I;16")])
def test_the_fix_a_wide_pil_image_is_given_works(tracker, array, mode):
    """Mode 'F' was told to shift by 8 bits ('>>'), which numpy refuses on floats."""
    Image = pytest.importorskip("PIL.Image")
    img = Image.fromarray(array)
    assert img.mode == mode
    with pytest.raises(InputError) as err:
        tracker.initialize(img, (5, 5, 10, 10))
    code = str(err.value).split("e.g. ", 1)[1].rsplit(" for ", 1)[0]
    fixed = eval(code, {"Image": Image, "np": np, "img": img})   # the line's own code, as a user pastes it
    tracker.initialize(fixed, (5, 5, 10, 10))
