"""dt data synth --attributes ...,in_scene: the target is a still part of the scene (cut in place, drawn over its own
pixels), it moves only with the camera, and nothing that would move it on its own is drawn with it."""

from __future__ import annotations

import cv2
import numpy as np

from droptrack.data.synth import synth_sequence
from droptrack.data.synth_hard import ATTRIBUTES, OPT_IN, choose_attributes, parse_attributes, plan_hard
from droptrack.data.synth_render import VAL_PHOTOS as PHOTOS
from droptrack.data.synth_render import render   # scikit-image photos: present wherever tests run
from droptrack.data.synth_scene import NOT_WITH

SIZE = (320, 180)


def test_in_scene_is_opt_in():
    assert "in_scene" in OPT_IN and "in_scene" not in ATTRIBUTES
    assert parse_attributes("all,in_scene") == ATTRIBUTES + ("in_scene",)


def test_nothing_that_moves_the_target_on_its_own_is_drawn_with_it():
    listed = ATTRIBUTES + OPT_IN
    train = [choose_attributes(np.random.default_rng([5, i]), listed, i, "train") for i in range(400)]
    scene = [t for t in train if "in_scene" in t]
    assert len(scene) > 40
    assert not any(set(t) & set(NOT_WITH) for t in scene)
    assert any("distractors" in t for t in scene) and any("camera_zoom" in t for t in scene)
    # val/test: the attribute whose turn it is stays; in_scene gives way to it, or it drops the clashing ones
    rotation = listed.index("rotation")
    assert "rotation" in choose_attributes(np.random.default_rng(0), listed, rotation, "val")
    turn = choose_attributes(np.random.default_rng(0), listed, listed.index("in_scene"), "val")
    assert "in_scene" in turn and not set(turn) & set(NOT_WITH)


def test_the_target_is_drawn_over_its_own_pixels():
    """Without zoom the frames with the target drawn equal, byte for byte, the frames without it."""
    for i in range(3):
        a = synth_sequence(i, 30, 7, SIZE, "val", attributes=("in_scene",), photos=PHOTOS)
        b = synth_sequence(i, 30, 7, SIZE, "val", attributes=("in_scene",), photos=PHOTOS, draw_target=False)
        assert a.tags == ("in_scene",)
        assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
        assert np.array_equal(a.boxes, b.boxes) and a.boxes[:, 2:].min() >= 6


def _scene_shift(f0: np.ndarray, f1: np.ndarray, r: int = 30) -> tuple[int, int]:
    """The integer shift (dx, dy) of the whole scene from f0 to f1: where f0's central part matches f1 best
    (OpenCV's normalised cross-correlation, which ignores the frames' exposure gain)."""
    g0, g1 = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in (f0, f1))
    H, W = g0.shape
    score = cv2.matchTemplate(g1, g0[r:H - r, r:W - r], cv2.TM_CCOEFF_NORMED)
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(x) - r, int(y) - r


def test_the_box_moves_with_the_scene():
    """The box follows the camera: its shift between two frames is the whole scene's shift, found from the pixels."""
    for i in range(2):
        seq = synth_sequence(i, 30, 3, SIZE, "val", attributes=("in_scene",), photos=PHOTOS)
        for t in (10, 29):
            dx, dy = _scene_shift(seq.frames[0], seq.frames[t])
            box_dx, box_dy = seq.boxes[t, :2] - seq.boxes[0, :2]
            if not (seq.cut[0] or seq.cut[t]):
                assert (box_dx, box_dy) == (dx, dy), (i, t)


def test_small_in_scene_targets_stay_small_under_zoom():
    tags = ("small_target", "camera_zoom", "in_scene")
    for i in range(4):
        plan = plan_hard(np.random.default_rng(i), 40, (640, 360), PHOTOS, {}, tags)
        assert plan.zoom is not None and plan.zoom.max() > 1.3
        boxes = render(plan, (640, 360)).boxes
        area = boxes[:, 2] * boxes[:, 3]
        assert area.max() < 1000 and area.min() > 0, i
