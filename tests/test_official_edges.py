"""Edge cases of the official OSTrack test-time procedure, with expected values worked out by hand from the official
code's steps (lib/train/data/processing_utils.py `sample_target`), on inputs the recorded official outputs lack."""

from __future__ import annotations

import cv2
import numpy as np

from droptrack.geometry import sample_target
from droptrack.runtime.host_ops import Cropper, crop_resize


def test_window_ending_left_of_the_frame_crops_as_the_official_negative_slice():
    # An init box partly inside the frame whose crop window lies wholly left of it (a long thin box with its centre
    # outside). Frame 8 wide, 6 high; box (-10, 1, 9, 1), factor 3, output 3.
    # Official sample_target, step by step:
    #   crop_sz = ceil(sqrt(9 * 1) * 3) = 9
    #   x1 = round(-10 + 4.5 - 4.5) = -10, x2 = -1;  y1 = round(1 + 0.5 - 4.5) = -3, y2 = 6
    #   x1_pad = 10, x2_pad = max(-1 - 8 + 1, 0) = 0;  y1_pad = 3, y2_pad = max(6 - 6 + 1, 0) = 1
    #   im[y1 + y1_pad : y2 - y2_pad, x1 + x1_pad : x2 - x2_pad] = im[0:5, 0:-1]: numpy reads the end -1 from the
    #   far side, so the patch is rows 0..4 and columns 0..6 of the frame (5 x 7), not empty;
    #   copyMakeBorder(top 3, bottom 1, left 10, right 0) with zeros -> 9 x 17, then cv2.resize to 3 x 3.
    # The host crop gave all zeros here (it took the window for one outside the frame).
    rng = np.random.default_rng(3)
    img = rng.integers(1, 256, (6, 8, 3), dtype=np.uint8)
    padded = np.zeros((9, 17, 3), np.uint8)
    padded[3:8, 10:17] = img[0:5, 0:7]
    expected = cv2.resize(padded, (3, 3))
    assert expected.any()
    box, factor, size = [-10.0, 1.0, 9.0, 1.0], 3.0, 3
    ref, rf_ref = sample_target(img, box, factor, size)
    assert ref.tobytes() == expected.tobytes() and rf_ref == 3 / 9
    for crop in (crop_resize, Cropper()):
        got, rf = crop(img, box, factor, size)
        assert got.tobytes() == expected.tobytes()
        assert rf == 3 / 9


def test_window_ending_above_the_frame_crops_as_the_official_negative_slice():
    # The same quirk on the other axis: frame 6 wide, 8 high; box (1, -10, 1, 9), factor 3, output 3.
    #   crop_sz = 9; x1 = round(1.5 - 4.5) = -3, x2 = 6; y1 = round(-5.5 - 4.5) = -10, y2 = -1
    #   x1_pad = 3, x2_pad = max(6 - 6 + 1, 0) = 1; y1_pad = 10, y2_pad = 0
    #   im[0:-1, 0:5] = rows 0..6, columns 0..4 (7 x 5); padded top 10, left 3, right 1 -> 17 x 9, resized to 3 x 3.
    rng = np.random.default_rng(4)
    img = rng.integers(1, 256, (8, 6, 3), dtype=np.uint8)
    padded = np.zeros((17, 9, 3), np.uint8)
    padded[10:17, 3:8] = img[0:7, 0:5]
    expected = cv2.resize(padded, (3, 3))
    box = [1.0, -10.0, 1.0, 9.0]
    assert sample_target(img, box, 3.0, 3)[0].tobytes() == expected.tobytes()
    for crop in (crop_resize, Cropper()):
        assert crop(img, box, 3.0, 3)[0].tobytes() == expected.tobytes()


def test_window_a_whole_frame_left_of_it_stays_zero():
    # x2 <= -W: the official slice im[:, 0:x2] is empty (the official code fails in copyMakeBorder); the host crop
    # keeps its all-zero window. Frame 8 x 6; box (-40, 1, 9, 1), factor 3: x1 = round(-35.5 - 4.5) = -40, x2 = -31.
    img = np.full((6, 8, 3), 255, np.uint8)
    for crop in (crop_resize, Cropper()):
        got, rf = crop(img, [-40.0, 1.0, 9.0, 1.0], 3.0, 3)
        assert not got.any() and rf == 3 / 9


def test_ce_keep_ratios_follow_block_order_not_the_order_ce_loc_lists():
    # Official VisionTransformerCE.__init__ walks i = 0 .. depth-1 and gives block i (when i is in CE_LOC) the next
    # CE_KEEP_RATIO entry, so CE_LOC [2, 1] with ratios [0.5, 0.75] gives block 1 -> 0.5 and block 2 -> 0.75.
    # Search 64 px / patch 16 -> 16 tokens; CEBlock keeps ceil(ratio * n): block 1 ceil(0.5 * 16) = 8, block 2
    # ceil(0.75 * 8) = 6 (pairing CE_LOC with the ratios by position would give 12, then 6).
    from droptrack.model.vit import VisionTransformerCE

    vit = VisionTransformerCE(template_size=32, search_size=64, patch_size=16, embed_dim=8, depth=4, num_heads=2,
                              ce_loc=[2, 1], ce_keep_ratio=[0.5, 0.75], temporal_embed=False, pretrain_img_size=32)
    assert [b.keep_ratio_search for b in vit.blocks] == [1.0, 0.5, 0.75, 1.0]
    assert vit.keep_counts() == [None, 8, 6, None]
