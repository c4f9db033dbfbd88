"""The first-frame anchor (ANCHOR_SCALE, ANCHOR_NCC, ANCHOR_SIZE, ANCHOR_GATE; runtime/anchor.py): the scale filter
and the NCC centre against known zooms and shifts of a real photo, the clamp, state round trips and the trackers' use
of it."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from droptrack.errors import ConfigError
from droptrack.runtime.anchor import STEP, ScaleFilter, TargetAnchor, gray_of
from droptrack.runtime.extensions import TargetMemory, TrackerExt
from droptrack.runtime.snapshot import memory_from_dict
from droptrack.runtime.tracker import load_tracker
from test_tracker_ext import check_host_device_and_resume, tiny  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real grey photo (scikit-image's astronaut), 360 x 480."""
    from skimage import data

    return cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY), (480, 360), interpolation=cv2.INTER_AREA)


def zoomed(gray: np.ndarray, s: float, cx: float, cy: float, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """The photo zoomed by `s` about (cx, cy) and moved by (dx, dy): what a camera zoom and pan would show."""
    a = np.array([[s, 0, (1 - s) * cx + dx], [0, s, (1 - s) * cy + dy]], np.float32)
    return cv2.warpAffine(gray, a, gray.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("zoom", [0.93, 1.0, 1.06, 1.1])
def test_scale_filter_finds_a_known_zoom(photo, zoom):
    box = [180.0, 60.0, 110.0, 140.0]   # the astronaut's head and shoulder
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    sf = ScaleFilter.start(photo, box)
    s = sf.step(zoomed(photo, zoom, cx, cy), cx, cy, box[2], box[3])
    assert s == pytest.approx(zoom, rel=STEP ** 0.5 - 1)   # within half a step of the 17 scales


@pytest.mark.parametrize("box", [[180.0, 60.0, 110.0, 140.0], [300.0, 200.0, 24.0, 60.0]])
def test_ncc_moves_the_centre_to_a_known_shift(photo, box):
    anchor = TargetAnchor.start(photo, box, ncc=True, scale=False)
    moved = zoomed(photo, 1.0, 0, 0, dx=7.0, dy=-4.0)
    pred = [box[0] + 7.0 + 9.0, box[1] - 4.0 - 6.0, box[2], box[3]]   # the network's centre 9, -6 px off
    x, y, w, h = anchor.apply(moved, pred, ncc=0.8, tol=None)
    # within 0.3 of the template's pixel (the box's long side / 32): the sub-pixel peak
    assert (x + w / 2, y + h / 2) == pytest.approx((box[0] + box[2] / 2 + 7.0, box[1] + box[3] / 2 - 4.0),
                                                   abs=0.3 * max(box[2:]) / 32)


def test_the_clamp_holds_the_size_within_the_tolerance_of_the_filters(photo):
    anchor = TargetAnchor.start(photo, [180.0, 60.0, 110.0, 140.0], ncc=False, scale=True)
    x, y, w, h = anchor.apply(photo, [175.0, 80.0, 170.0, 100.0], ncc=None, tol=1.2)   # far too wide, too short
    assert anchor.size == pytest.approx([110.0, 140.0], rel=0.01)                       # no zoom: size kept
    assert (w, h) == pytest.approx((anchor.size[0] * 1.2, anchor.size[1] / 1.2), rel=1e-9)   # clamped both ways
    assert (x + w / 2, y + h / 2) == pytest.approx((260.0, 130.0), abs=1e-9)           # the centre is the network's


@pytest.mark.parametrize("zoom", [0.94, 1.07])
def test_network_size_corrects_the_networks_box_by_the_zoom_and_keeps_its_aspect(photo, zoom):
    box = [180.0, 60.0, 110.0, 140.0]
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    anchor = TargetAnchor.start(photo, box, ncc=False, scale=True)
    frame = zoomed(photo, zoom, cx, cy)
    x, y, w, h = anchor.apply(frame, box, ncc=None, tol=1.0, size="network")      # the network missed the zoom
    assert (w / 110.0, h / 140.0) == pytest.approx((zoom, zoom), rel=STEP ** 0.5 - 1)   # within half a step
    assert (x + w / 2, y + h / 2) == pytest.approx((cx, cy), abs=1e-9)
    assert anchor.size == [110.0, 140.0]                                            # no size memory
    pred = [cx - 60.0, cy - 70.0, 120.0, 140.0]                                     # 9 % wider: its aspect is kept
    x, y, w, h = anchor.apply(frame, pred, ncc=None, tol=1.0, size="network")
    assert w / h == pytest.approx(120.0 / 140.0, rel=1e-9) and h != pytest.approx(140.0, rel=1e-3)
    x, y, w2, h2 = anchor.apply(photo, pred, ncc=None, tol=1.5, size="network")     # within x/÷ 1.5: as given
    assert (w2, h2) == pytest.approx((120.0, 140.0), abs=1e-9)


def test_under_the_gate_the_box_is_the_networks_and_the_filter_learns_nothing(photo):
    box = [180.0, 60.0, 110.0, 140.0]
    anchor = TargetAnchor.start(photo, box, ncc=True, scale=True)
    num, den = anchor.scale.num.copy(), anchor.scale.den.copy()
    pred = [150.0, 70.0, 170.0, 100.0]
    for size in ("first", "network"):
        assert anchor.apply(photo, pred, 0.8, 1.0, score=0.49, size=size, gate=0.5) == pred
    assert np.array_equal(anchor.scale.num, num) and np.array_equal(anchor.scale.den, den)
    assert anchor.apply(photo, pred, 0.8, 1.0, score=0.5, size="network", gate=0.5) != pytest.approx(pred)
    assert not np.array_equal(anchor.scale.den, den)


def test_ncc_under_its_threshold_leaves_the_networks_box(photo):
    anchor = TargetAnchor.start(photo, [180.0, 60.0, 110.0, 140.0], ncc=True, scale=False)
    elsewhere = np.random.default_rng(1).integers(0, 255, photo.shape, dtype=np.uint8)
    pred = [150.0, 70.0, 100.0, 120.0]
    assert anchor.apply(elsewhere, pred, ncc=0.8, tol=None) == pytest.approx(pred, abs=1e-9)


def test_anchor_state_survives_json_and_gives_the_same_boxes(photo):
    box = [180.0, 60.0, 110.0, 140.0]
    a = TargetMemory(box, anchor=TargetAnchor.start(photo, box, ncc=True, scale=True))
    frames = [zoomed(photo, 1.0 + 0.01 * i, 235, 130, dx=2.0 * i) for i in range(1, 5)]
    a.anchor.apply(frames[0], box, 0.8, 1.2)
    like = TargetMemory(box, anchor=TargetAnchor.start(photo, box, ncc=True, scale=True))   # as initialised
    b = memory_from_dict(json.loads(json.dumps(a.to_dict())), TrackerExt(anchor_ncc=0.8, anchor_scale=1.2), like)
    for f in frames[1:]:
        pred = [180.0, 62.0, 120.0, 130.0]
        assert b.anchor.apply(f, pred, 0.8, 1.2) == pytest.approx(a.anchor.apply(f, pred, 0.8, 1.2), abs=1e-4)


def test_keys_are_checked_and_off_by_default():
    assert TrackerExt().anchor_scale is None and TrackerExt().anchor_ncc is None and not TrackerExt().active
    for bad in ({"ANCHOR_SCALE": 0.9}, {"ANCHOR_NCC": 0.0}, {"ANCHOR_NCC": 1.5}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            TrackerExt.from_keys(bad)
    assert "first-frame anchor" in TrackerExt.from_keys({"ANCHOR_SCALE": 1.2, "ANCHOR_NCC": 0.8}).describe()
    for bad in ({"ANCHOR_SIZE": "last"}, {"ANCHOR_GATE": 1.2}, {"ANCHOR_GATE": -0.1}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            TrackerExt.from_keys(bad)
    text = TrackerExt.from_keys({"ANCHOR_SCALE": 1.0, "ANCHOR_SIZE": "network", "ANCHOR_GATE": 0.5}).describe()
    assert "of the network's box" in text and "score >= 0.5" in text


def test_a_still_target_under_a_camera_pan_stays_boxed(photo):
    """The embedded model on a pure pan of a real photo, a 40 x 90 target (without the anchor its box turns 100 x 33
    and its centre drifts up to 13 px): the centre stays within one template pixel (90 / 32 px) of the truth and the
    sides within 1.4x."""
    rgb = cv2.cvtColor(photo, cv2.COLOR_GRAY2RGB)
    every = {"ANCHOR_SIZE": "first", "ANCHOR_GATE": 0.0, "ANCHOR_BOX": "state"}   # the model's own fill what ext omits
    tracker = load_tracker(None, ext={"ANCHOR_SCALE": 1.2, "ANCHOR_NCC": 0.8, **every})
    tracker.initialize(rgb, [190.0, 150.0, 40.0, 90.0])
    for i in range(1, 9):
        d = (3.0 * i, -1.5 * i)
        x, y, w, h = tracker.track(cv2.cvtColor(zoomed(photo, 1.0, 0, 0, *d), cv2.COLOR_GRAY2RGB))[0]
        assert (x + w / 2, y + h / 2) == pytest.approx((210.0 + d[0], 195.0 + d[1]), abs=90 / 32)
        assert 40 / 1.4 <= w <= 40 * 1.4 and 90 / 1.4 <= h <= 90 * 1.4


@pytest.mark.parametrize("keys", [{"anchor_scale": 1.2, "anchor_ncc": 0.5},
                                  {"anchor_scale": 1.0, "anchor_size": "network", "anchor_gate": 0.5},
                                  {"anchor_scale": 1.0, "anchor_size": "network", "anchor_box": "report"}])
def test_device_tracker_and_resume_share_the_anchor(tiny, keys):  # noqa: F811
    scores = [[0.9, 0.95, 0.2, 0.4], [0.3, 0.2, 0.5, 0.9], [0.6, 0.7, 0.1, 0.1]]
    host = check_host_device_and_resume(tiny[1], scores, TrackerExt(scale_search=[0.8], scale_penalty=0.9, **keys))
    assert all(m.anchor is not None for m in host.extensions.memory)


def test_gray_of_is_opencvs_grey():
    rgb = np.random.default_rng(2).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    want = np.round(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])
    assert np.abs(gray_of(rgb).grey().astype(float) - want).max() <= 1


def test_the_filter_size_is_bounded_for_a_degenerate_box():
    """A box 1e-9 x 50 px (a Python API tracker does not refuse it) asked the scale filter for 17 x 5 million cells,
    5 GiB, and dt serve was killed for memory; a side now stops at MAX_SIDE, and a thin real box keeps its size."""
    from droptrack.runtime.anchor import MAX_SIDE, model_size

    assert model_size(1e-9, 50.0) == (8, MAX_SIDE) == (8, 4096)
    assert model_size(1000.0, 2.0) == (504, 8)   # sqrt(512 / 2000) x 1000 = 505.96 -> 126 cells of 4
    assert model_size(40.0, 90.0) == (16, 32)


def test_an_anchor_that_fails_leaves_every_target_as_it_was(tiny, monkeypatch):  # noqa: F811
    """Tracker.add_targets set the new templates and states, then started the anchors: one that raised (a memory
    error) left the running target replaced by the refused box."""
    import droptrack.runtime.extensions as extensions
    from test_tracker_ext import host_and_device

    ext = TrackerExt(anchor_scale=1.0, anchor_size="network")
    for tracker in host_and_device(tiny[1], [[0.9, 0.9]], ext)[:2]:
        frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
        states, memory = [list(s) for s in tracker.states], list(tracker.extensions.memory)

        def failing(*args):
            raise MemoryError

        with monkeypatch.context() as m:
            m.setattr(extensions, "start_anchors", failing)
            with pytest.raises(MemoryError):
                tracker.add_targets(frame, [[60.0, 40.0, 20.0, 30.0]])
            with pytest.raises(MemoryError):
                tracker.initialize_many(frame, [[60.0, 40.0, 20.0, 30.0]])
        assert tracker.states == states and tracker.extensions.memory == memory and tracker.num_targets == 2
