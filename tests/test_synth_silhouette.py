"""dt data synth --attributes ...,silhouette: the target is an object-shaped region of its crop and the box its extent;
opt-in, reproducible, never drawn with `attached`."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from droptrack.data.synth import synth_sequence
from droptrack.data.synth_hard import ATTRIBUTES, OPT_IN, choose_attributes, parse_attributes
from droptrack.data.synth_render import VAL_PHOTOS as PHOTOS   # scikit-image photos: present wherever tests run
from droptrack.data.synth_shape import blob, segment, silhouette_cut, usable

SIZE = (320, 180)


def test_silhouette_is_opt_in():
    assert "silhouette" in OPT_IN and "silhouette" not in ATTRIBUTES
    assert parse_attributes("all") == ATTRIBUTES
    assert parse_attributes("all,silhouette") == ATTRIBUTES + ("silhouette",)
    assert parse_attributes("silhouette,attached") == ("attached", "silhouette")


def test_attached_and_silhouette_are_never_drawn_together():
    both = ("attached", "silhouette")
    train = [choose_attributes(np.random.default_rng([7, i]), ATTRIBUTES + both, i, "train") for i in range(400)]
    assert not any(set(both) <= set(t) for t in train)
    assert sum("silhouette" in t for t in train) > 40 and sum("attached" in t for t in train) > 40
    # val/test cycle through the list: the sequence whose turn it is keeps its attribute
    assert choose_attributes(np.random.default_rng(0), both, 1, "val")[0] == "silhouette"
    assert "attached" in choose_attributes(np.random.default_rng(0), both, 0, "test")


def test_grabcut_finds_a_disc_on_a_plain_background():
    """A dark textured disc on a bright noisy square: the segmentation is the disc (IoU > 0.9 with the drawn one)."""
    rng = np.random.default_rng(3)
    img = rng.normal(200, 12, (120, 120, 3))
    disc = np.zeros((120, 120), np.uint8)
    cv2.circle(disc, (60, 60), 38, 1, -1)
    img[disc == 1] = rng.normal(60, 12, (int(disc.sum()), 3))
    mask = segment(np.random.default_rng(0), img)
    iou = (mask & disc).sum() / (mask | disc).sum()
    assert iou > 0.9, iou
    assert usable(mask)   # a disc covers pi/4 of its box: not a rectangle


def test_a_rectangle_or_a_sliver_is_not_a_silhouette_and_a_blob_is():
    full = np.ones((40, 60), np.uint8)
    sliver = np.zeros((40, 60), np.uint8)
    sliver[:, 28:34] = 1
    assert not usable(full) and not usable(sliver) and not usable(np.zeros((40, 60), np.uint8))
    for seed in range(20):
        b = blob(np.random.default_rng(seed), 40, 60)
        # it spans its box edge to edge and leaves corners out
        assert b[:, 0].any() and b[:, -1].any() and b[0].any() and b[-1].any()
        assert b.sum() < 0.9 * b.size


def test_cut_is_cropped_to_the_silhouette():
    rng = np.random.default_rng(5)
    img = rng.normal(220, 10, (90, 70, 3))
    shape = np.zeros((90, 70), np.uint8)
    cv2.ellipse(shape, (35, 47), (28, 38), 0, 0, 360, 1, -1)
    img[shape == 1] = rng.normal(50, 10, (int(shape.sum()), 3))
    rgb, alpha = silhouette_cut(rng, img)
    assert rgb.shape[:2] == alpha.shape
    assert alpha[0].any() and alpha[-1].any() and alpha[:, 0].any() and alpha[:, -1].any()
    assert abs(alpha.shape[0] - 77) <= 3 and abs(alpha.shape[1] - 57) <= 3   # the ellipse's own 57 x 77 box


def test_silhouette_sequences_have_irregular_targets_boxed_by_their_pixels():
    for i in range(3):
        seq = synth_sequence(i, 30, 11, SIZE, "val", attributes=("silhouette",), photos=PHOTOS, keep_masks=True)
        assert seq.tags == ("silhouette",)
        for t in (0, 15, 29):
            m = seq.target_masks[t]
            ys, xs = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
            box = (xs[0], ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1)
            assert tuple(seq.boxes[t]) == box
            if not seq.cut[t]:   # whole in the frame: its pixels leave part of its box empty
                assert m.sum() < 0.93 * box[2] * box[3]


def test_silhouette_sets_are_reproducible():
    a = synth_sequence(2, 30, 4, SIZE, "val", attributes=("silhouette",), photos=PHOTOS)
    cv2.setRNGSeed(12345)   # whatever OpenCV's generator held before, the sequence is the same
    b = synth_sequence(2, 30, 4, SIZE, "val", attributes=("silhouette",), photos=PHOTOS)
    assert np.array_equal(a.boxes, b.boxes)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))


@pytest.mark.parametrize("text", ["silhouete", "all,silhouettes"])
def test_a_misspelled_silhouette_is_refused_naming_it(text):
    from droptrack.errors import InputError

    with pytest.raises(InputError, match="opt-in attached, silhouette"):
        parse_attributes(text)
