"""Golden values of the official crop, Hann window, decode, map-back and clip."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import InputError
from droptrack.geometry import (box_in_crop, clip_box, crop_params, decode_box, hann2d, map_box_back, normalize,
                                sample_target, template_center_index, validate_init_box)


@pytest.fixture()
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(1, 255, size=(80, 100, 3), dtype=np.uint8)  # H=80, W=100, no zero pixels


def test_crop_top_left_border_pads_with_zeros(image):
    patch, rf = sample_target(image, [0, 0, 10, 10], 2.0, 20)
    assert rf == 1.0 and patch.shape == (20, 20, 3)
    assert (patch[:5] == 0).all() and (patch[:, :5] == 0).all()
    assert np.array_equal(patch[5:, 5:], image[0:15, 0:15])


def test_crop_right_border_drops_last_column_plus_one_quirk(image):
    p = crop_params([90, 30, 10, 10], 2.0, image.shape[:2])
    assert (p.x1, p.y1, p.crop_sz, p.pad_r, p.pad_l) == (85, 25, 20, 6, 0)
    patch, _ = sample_target(image, [90, 30, 10, 10], 2.0, 20)
    assert np.array_equal(patch[:, :14], image[25:45, 85:99])  # column 99 (the last) is not used
    assert (patch[:, 14:] == 0).all()


def test_crop_touching_right_and_bottom_border_still_pads_one(image):
    p = crop_params([85, 65, 10, 10], 2.0, image.shape[:2])  # x2 = 100 = W, y2 = 80 = H
    assert (p.pad_r, p.pad_b) == (1, 1)
    patch, _ = sample_target(image, [85, 65, 10, 10], 2.0, 20)
    assert (patch[-1] == 0).all() and (patch[:, -1] == 0).all()
    assert np.array_equal(patch[:19, :19], image[60:79, 80:99])


def test_a_tiny_box_on_the_last_column_is_named_as_such_not_as_outside(image):
    from droptrack.geometry import crop_view

    with pytest.raises(InputError, match=r"too small at the edge of the 100x80 image to crop"):   # window x1 = 99:
        crop_view(image, [99.9, 79.9, 0.1, 0.1], 2.0)    # the quirk leaves it no column ('lies outside' before)
    with pytest.raises(InputError, match=r"lies outside the 100x80 image"):
        crop_view(image, [150, 30, 10, 10], 2.0)


def test_crop_rounds_half_to_even_and_resizes(image):
    assert crop_params([0.5, 0.5, 10, 10], 2.0, image.shape[:2]).x1 == -4  # round(-4.5) = -4
    assert crop_params([1.5, 0, 10, 10], 2.0, image.shape[:2]).x1 == -4  # round(-3.5) = -4
    patch, rf = sample_target(image, [40, 30, 10, 10], 2.0, 40)
    assert patch.shape == (40, 40, 3) and rf == 2.0


def test_crop_size_is_ceil_of_sqrt_area_times_factor(image):
    assert crop_params([10, 10, 7, 3], 5.0, image.shape[:2]).crop_sz == 23  # ceil(sqrt(21)*5)=ceil(22.91)


def test_normalize_matches_official_formula():
    patch = np.full((2, 2, 3), 255, dtype=np.uint8)
    out = normalize(patch)
    assert out.shape == (1, 3, 2, 2) and out.dtype == np.float32
    assert np.allclose(out[0, :, 0, 0], (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]))


def test_hann_window_values():
    w = hann2d(24)[0, 0]
    one_d = np.sqrt(np.diag(w))
    assert w.shape == (24, 24) and w.dtype == np.float32
    assert one_d[0] == pytest.approx(0.015708, abs=1e-6)
    assert one_d[11] == pytest.approx(0.996057, abs=1e-6) and one_d[12] == pytest.approx(0.996057, abs=1e-6)
    assert np.allclose(w, w.T)


def test_decode_box_reads_offset_and_size_at_argmax():
    score = np.zeros((1, 1, 4, 4), np.float32)
    score[0, 0, 2, 1] = 0.9  # row 2, column 1
    size = np.zeros((1, 2, 4, 4), np.float32)
    size[0, :, 2, 1] = [0.25, 0.5]
    offset = np.zeros((1, 2, 4, 4), np.float32)
    offset[0, :, 2, 1] = [0.5, 0.25]
    box, peak = decode_box(score, size, offset)
    assert np.allclose(box[0], [(1 + 0.5) / 4, (2 + 0.25) / 4, 0.25, 0.5]) and peak[0] == pytest.approx(0.9)


def test_map_back_uses_unrounded_previous_centre():
    out = map_box_back([192.0, 192.0, 50.0, 40.0], [100.0, 100.0, 40.0, 40.0], 384, 384 / 400)
    assert out == pytest.approx([87.0, 92.0, 50.0, 40.0])


def test_clip_box_keeps_ten_pixel_margin():
    assert clip_box([-5, 5, 30, 30], 80, 100) == [0, 5, 25, 30]
    assert clip_box([95, 75, 20, 20], 80, 100) == [90, 70, 10, 10]
    assert clip_box([20, 20, 2, 3], 80, 100) == [20, 20, 10, 10]


@pytest.mark.parametrize("H, W", [(6, 8), (4, 5), (1, 1), (18, 9)])
def test_clip_box_keeps_boxes_inside_frames_smaller_than_the_margin(H, W):
    import torch

    from droptrack.runtime.device_ops import map_back_clip

    for box in ([-5.0, -6.0, 10.0, 10.0], [3.0, 2.0, 1.0, 1.0], [50.0, 50.0, 30.0, 30.0], [-40.0, 1.0, 3.0, 90.0]):
        x, y, w, h = clip_box(box, H, W)
        assert 0 <= x and 0 <= y and x + w <= W and y + h <= H and w > 0 and h > 0, (box, (x, y, w, h))
        # the device path clips the same way (unit boxes (cx,cy,w,h) that map back to `box` with resize 1)
        unit = torch.tensor([[(box[0] + box[2] / 2) / 20 + 0.5, (box[1] + box[3] / 2) / 20 + 0.5, box[2] / 20,
                              box[3] / 20]], dtype=torch.float32)
        out = map_back_clip(unit, torch.zeros(1, 4, dtype=torch.float64), torch.ones(1, dtype=torch.float64), 20,
                            (H, W))[0].tolist()
        assert out == pytest.approx(clip_box(map_box_back([v * 20 for v in unit[0].tolist()], [0, 0, 0, 0], 20, 1.0),
                                             H, W))


def test_box_in_crop_centre_maps_to_crop_centre():
    out = box_in_crop([10, 20, 30, 40], [10, 20, 30, 40], 2.0, 128)
    assert np.allclose(out * 128, [63.5 - 30, 63.5 - 40, 60, 80])


def test_template_centre_index():
    assert template_center_index(12) == 65 and template_center_index(8) == 27 and template_center_index(7) == 24


@pytest.mark.parametrize("box, match", [([10, 10, 0, 5], "zero or negative"), ([10, 10, -3, 5], "zero or negative"),
                                        ([500, 10, 5, 5], "outside"), ([float("nan"), 1, 2, 3], "finite"),
                                        ([1, 2, 3], "four"), (["a", 1, 2, 3], "four numbers")])
def test_bad_init_boxes(box, match):
    with pytest.raises(InputError, match=match):
        validate_init_box(box, (80, 100))


def test_a_thin_init_box_longer_than_twice_the_frame_is_tracked_as_the_official_crop_allows():
    """The size check compared w and h with the frame: a 1000x2 box on a 480x360 frame was refused as a crop that
    would not fit in memory, but its crops are sized by sqrt(1000*2) = 45 px (search 4x: 179 px)."""
    from droptrack.errors import InputError
    from droptrack.geometry import validate_init_box

    assert validate_init_box([0.0, 100.0, 1000.0, 2.0], (360, 480)) == [0.0, 100.0, 1000.0, 2.0]
    assert validate_init_box([0.0, 0.0, 960.0, 960.0], (360, 480)) == [0.0, 0.0, 960.0, 960.0]   # side 960 = 2 x 480
    with pytest.raises(InputError, match=r"init box 961x961 is more than 2x the 480x360 frame \(its crops, 2 to 5 "
                                         r"times its side sqrt\(w\*h\) = 961 px"):
        validate_init_box([0.0, 0.0, 961.0, 961.0], (360, 480))


def test_a_box_partly_inside_whose_window_is_outside_names_the_window(image):
    # (90, 30, 200, 10) overlaps the 100x80 image, yet its window (centred at x 190) does not: the message said the
    # box lay outside, which it does not
    from droptrack.geometry import crop_view

    with pytest.raises(InputError, match=r"its 2x crop window, centred on the box's centre, lies outside the 100x80"):
        crop_view(image, [90, 30, 200, 10], 2.0)
