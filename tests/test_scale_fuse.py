"""SCALE_FUSE (runtime/extensions.py): the box is the penalised-peak-weighted mean of the scale-search crops' boxes
that overlap the winner's by at least the given IoU. Hand-computed on scripted maps; off is the winner's box; the
device tracker equals the host; 'off' on the command line and in a printed next command."""

from __future__ import annotations

import math

import numpy as np
import pytest

from droptrack.cli.ext_options import ext_overrides
from droptrack.config import meta_from_config
from droptrack.runtime.extensions import Extensions, TrackerExt, option_args
from droptrack.runtime.tracker import Tracker
from test_tracker_ext import ScriptedBackend, host_and_device, tiny

__all__ = ["tiny"]   # fixture, used by name


def one_frame(cfg, fuse: float | None, scores=(0.5, 0.6)) -> tuple[list[float], float]:
    """One tracked frame of a 40 x 40 target on scripted maps: the normal crop's peak and the 0.8 crop's."""
    meta = meta_from_config(cfg)
    tracker = Tracker(ScriptedBackend(meta, [list(scores)]),
                      TrackerExt(scale_search=[0.8], scale_penalty=0.95, scale_fuse=fuse))
    frame = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    tracker.initialize(frame, [140.0, 100.0, 40.0, 40.0])
    return tracker.track(frame)


def test_fused_box_is_the_penalised_peak_weighted_mean_hand_computed(tiny):
    """Both crops' boxes are squares on the target's centre (160, 120), a quarter of their crop's side: 160 / 4 = 40
    px (normal crop, peak 0.5) and ceil(160 x 0.8) / 4 = 32 px (peak 0.6, weight 0.6 x 0.95 = 0.57, the winner).
    Their IoU is 32^2 / 40^2 = 0.64."""
    cfg = tiny[1]
    meta = meta_from_config(cfg)
    assert meta.feat_size % 2 == 0   # the centre cell decodes to the crop's centre (ScriptedBackend)
    small = math.ceil(40 * meta.search_factor * 0.8) / 4
    big = math.ceil(40 * meta.search_factor) / 4
    assert (small, big) == (32.0, 40.0)
    fused = (0.5 * big + 0.57 * small) / (0.5 + 0.57)   # 35.738...
    for fuse, side in ((0.5, fused), (0.63, fused), (0.65, small), (None, small)):
        box, score = one_frame(cfg, fuse)
        assert score == pytest.approx(0.6, abs=1e-6)            # the winner's raw peak, fused or not
        assert box == pytest.approx([160 - side / 2, 120 - side / 2, side, side], abs=1e-4), fuse
    # the normal crop wins (0.6 > 0.5 x 0.95): fused, its weight is 0.6 and the other's 0.475
    box, score = one_frame(cfg, 0.5, scores=(0.6, 0.5))
    side = (0.6 * big + 0.475 * small) / (0.6 + 0.475)
    assert score == pytest.approx(0.6, abs=1e-6)
    assert box == pytest.approx([160 - side / 2, 120 - side / 2, side, side], abs=1e-4)


def test_fuse_joins_only_boxes_overlapping_the_winner():
    """Three crops: the winner [0,0,10,10] (peak 0.4), one shifted by 1 px (IoU 81/119 = 0.68, peak 0.9 x 0.5) and
    one far away (IoU 0, peak 1.0 x 0.5): only the first two are averaged, 0.4 : 0.45."""
    ext = Extensions(TrackerExt(scale_search=[0.8, 1.2], scale_penalty=0.5, scale_fuse=0.5), 4.0)
    boxes = [[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [50.0, 50.0, 30.0, 30.0]]
    out = ext.fuse(boxes, [0.4, 0.9, 1.0], chosen=0)
    assert out == pytest.approx([0.45 / 0.85, 0.45 / 0.85, 10.0, 10.0], abs=1e-12)
    assert ext.fuse(boxes, [0.4, 0.9, 1.0], chosen=2) == boxes[2]      # nothing overlaps the far winner
    assert Extensions(TrackerExt(scale_search=[0.8, 1.2]), 4.0).fuse(boxes, [0.4, 0.9, 1.0], 0) == boxes[0]
    # a winner whose weight is zero (peak 0) and nothing else joined: its box, not a division by zero
    assert ext.fuse(boxes[:1] + boxes[2:], [0.0, 1.0], chosen=0) == boxes[0]


def test_fusion_on_the_device_tracker_equals_the_host_tracker(tiny):
    scores = [[0.9, 0.95, 0.2, 0.4], [0.3, 0.2, 0.5, 0.9], [0.6, 0.7, 0.1, 0.1]]
    ext = TrackerExt(scale_search=[0.8], scale_penalty=0.9, crop_grid=0.1, grid_window="target", scale_fuse=0.5)
    host, dev, frame = host_and_device(tiny[1], scores, ext)
    off = Tracker(ScriptedBackend(meta_from_config(tiny[1]), scores),
                  TrackerExt(scale_search=[0.8], scale_penalty=0.9, crop_grid=0.1, grid_window="target"))
    off.initialize_many(frame, [[140.0, 100.0, 40.0, 40.0], [30.0, 50.0, 20.0, 60.0]])
    moved = False
    for _ in scores:
        unfused = off.track_many(frame)
        for a, b, c in zip(host.track_many(frame), dev.track_many(frame), unfused):
            assert b.box == pytest.approx(a.box, abs=1e-6) and b.score == pytest.approx(a.score, abs=1e-6)
            moved |= abs(a.box[2] - c.box[2]) > 0.5
    assert moved   # fusion changed some box


def test_scale_fuse_off_on_the_command_line_and_in_a_printed_command():
    assert ext_overrides(False, scale_fuse="off", scale_search=None) == {"SCALE_FUSE": None}
    assert ext_overrides(False, scale_fuse="0.5", scale_search=None) == {"SCALE_FUSE": "0.5"}
    assert option_args({"SCALE_FUSE": None}) == ["--scale-fuse", "off"]
    assert option_args({"SCALE_SEARCH": [0.8], "SCALE_FUSE": 0.5}) == ["--scale-search", "0.8", "--scale-fuse", "0.5"]
    assert TrackerExt(scale_search=[0.8], scale_penalty=0.97, scale_fuse=0.5).describe() == \
        "official + scale search 0.8 (penalty 0.97, boxes fused at IoU 0.5)"
