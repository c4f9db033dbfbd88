"""Tracker.restore on the default model (first-frame anchor, aspect prior): a snapshot goes on bit for bit, and a
damaged or foreign one is one TrackerStateError before anything changes. Before, NaN or negative values were taken
(a math domain error or a ZeroDivisionError at the next frame, a box the width of the frame for aspect 1e300, a
7 TiB allocation for a 10^6 px scale filter), a snapshot without the anchor silently turned it off, and the anchor's
filter came back in another memory layout, so a restored run parted from the original in the last bits.
Also: postprocess on NaN model outputs, on crops another set of targets made, and the calls of a closed tracker."""

from __future__ import annotations

import base64
import copy
import json

import numpy as np
import pytest

from droptrack import Tracker, load_tracker
from droptrack.engine.base import to_numpy
from droptrack.errors import BackendError, DropTrackError, InputError, TrackerStateError
from droptrack.runtime.sources import open_source

BOXES = [(60, 40, 40, 50), (100, 60, 30, 30)]


@pytest.fixture(scope="module")
def clip(video) -> list[np.ndarray]:
    """The first 24 frames of the bundled carphone clip (176x144, real footage)."""
    with open_source(video) as src:
        return [f.image for f, _ in zip(src, range(24))]


@pytest.fixture(scope="module")
def default():
    """The embedded default model (its TEST keys: first-frame anchor, aspect prior, scale search, crop grid)."""
    return load_tracker(threads=1)


def started(default, clip, ext=None, frames: int = 3) -> Tracker:
    """A tracker on the default model's weights, two targets started on frame 0 and tracked `frames` frames."""
    t = Tracker(default.backend, ext=ext)
    t.initialize_many(clip[0], BOXES)
    for f in clip[1:1 + frames]:
        t.track_many(f)
    return t


@pytest.mark.parametrize("ext", [None, {"ANCHOR_BOX": "state", "ANCHOR_SIZE": "first", "ANCHOR_NCC": 0.5}])
def test_a_restored_tracker_goes_on_bit_for_bit(default, clip, ext):
    a = started(default, clip, ext, frames=7)
    snap = json.loads(json.dumps(a.snapshot()))   # as dt run --resume's journal keeps it
    b = Tracker(default.backend, ext=ext)
    b.initialize_many(clip[0], BOXES)
    b.restore(snap)
    for f in clip[8:]:
        assert [r.box + [r.score] for r in a.track_many(f)] == [r.box + [r.score] for r in b.track_many(f)]
        assert a.states == b.states   # full floats: they parted by 1e-14 within a few frames


def _set(path: str, value):
    """A change of one value of a snapshot, at a path such as 'memory.0.anchor.scale.model_wh'."""
    def change(snap: dict) -> None:
        *parents, last = path.split(".")
        node = snap
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
    return change


BAD = [
    ("states.0", [60.0, 40.0, -40.0, 50.0], "has no area"),               # math domain error at the next frame
    ("states.0", [1e9, 40.0, 40.0, 50.0], "lies outside the 176x144 frame"),
    ("states.0", [60.0, 40.0, 40.0, float("nan")], "not four finite numbers"),
    ("memory.0.aspect", 1e300, "aspect 1e+300 is not the w / h of a box"),  # passed: a box the frame's width
    ("memory.0.aspect", float("nan"), "aspect is not finite"),              # passed: the prior silently off
    ("memory.0.aspect", -1.0, "aspect -1 is not the w / h of a box"),
    ("memory.0.velocity", [float("nan"), 0.0], "velocity is not finite"),
    ("memory.0.confident", [1.0, 2.0, 3.0], "confident is not 4 numbers"),
    ("memory.0.since", -1, "since -1 is not a whole number >= 0"),          # ZeroDivisionError at the next frame
    ("memory.0.refreshed", -1, "refreshed -1 is not a whole number >= 0"),
    ("memory.0.low", 2.5, "low 2.5 is not a whole number >= 0"),
    ("memory.0.wide", 1, "wide 1 is not false (re-acquisition, REACQ_FACTOR, is off)"),   # TypeError later
    ("memory.0.wide", True, "wide True is not false"),
    ("memory.0.anchor", None, "no first-frame anchor, which this tracker's settings use"),   # passed: anchor off
    ("memory.0.anchor.scale.model_wh", [8, 8], "its scale filter's arrays are not of its size"),   # broadcast error
    ("memory.0.anchor.scale.model_wh", [1000000, 1000000], "size [1000000, 1000000] px is not one a box gives"),
    ("memory.0.anchor.size", [float("nan"), 40.0], "its anchor size [nan, 40.0] is not two numbers > 0"),
    ("memory.0.anchor.scale", None, "other parts"),
    ("memory.1", "x", "memory of target 1: it is a str"),
]


@pytest.mark.parametrize("path, value, words", BAD, ids=[f"{p}={v!r:.12}" for p, v, _ in BAD])
def test_a_damaged_snapshot_is_one_tracker_state_error_and_changes_nothing(default, clip, path, value, words):
    t = started(default, clip)
    snap = t.snapshot()
    bad = copy.deepcopy(snap)
    _set(path, value)(bad)
    with pytest.raises(TrackerStateError) as err:
        t.restore(bad)
    text = str(err.value)
    assert words in text and "\n" not in text, text
    assert t.snapshot() == snap
    assert all(np.isfinite(r.box).all() for r in t.track_many(clip[4]))   # and it tracks on


def test_a_filter_of_nan_numbers_and_foreign_refresh_counts_are_refused(default, clip):
    t = started(default, clip)
    snap = t.snapshot()
    bad = copy.deepcopy(snap)
    packed = bad["memory"][0]["anchor"]["scale"]["num"]
    num = np.frombuffer(base64.b64decode(packed["b64"]), "<f8").copy()
    num[5] = np.nan
    packed["b64"] = base64.b64encode(num.tobytes()).decode()
    for call, words in [(lambda: t.restore(bad), "NaN, infinite or negative"),
                        (lambda: t.restore({**snap, "refreshes": -1}), "refreshes -1 is not a whole number"),
                        (lambda: t.restore(snap, templates=t.templates.copy(), template_version="x"),
                         "template_version 'x' is not a whole number"),   # a raw ValueError after the states changed
                        (lambda: t.restore(snap, templates=np.full_like(t.templates, np.nan)), "NaN or infinite")]:
        with pytest.raises(TrackerStateError, match=words):
            call()
        assert t.snapshot() == snap


def test_a_snapshot_of_other_settings_is_refused(default, clip):
    plain = started(default, clip, ext={"ANCHOR_SCALE": None})   # no anchor: restored, it turned the anchor off
    t = started(default, clip)
    with pytest.raises(TrackerStateError, match="no first-frame anchor"):
        t.restore(plain.snapshot())
    with pytest.raises(TrackerStateError, match="a first-frame anchor, which this tracker's settings do not use"):
        plain.restore(t.snapshot())
    other = Tracker(default.backend)   # other init boxes: the snapshot's anchors and aspects go on (the journal's)
    other.initialize_many(clip[0], [(20, 20, 80, 30), (100, 60, 30, 30)])
    other.restore(t.snapshot())
    assert other.snapshot() == t.snapshot()


@pytest.mark.parametrize("pre", ["host", "device"])
@pytest.mark.parametrize("bad", ["nan_score", "inf_size", "nan_offset"])
def test_nan_model_outputs_are_a_backend_error_and_the_states_stay(default, clip, pre, bad):
    from droptrack.runtime.build import build_tracker

    t = build_tracker(None, None, "cpu", pre=pre)
    t.initialize_many(clip[0], BOXES)
    before = t.snapshot()
    search, factors = t.preprocess(clip[1])
    out = {k: np.array(to_numpy(v), dtype=np.float32) for k, v in t.infer(search).items()}
    key, value = {"nan_score": ("score_map", np.nan), "inf_size": ("size_map", np.inf),
                  "nan_offset": ("offset_map", np.nan)}[bad]
    out[key][0] = value   # an FP16 engine that overflowed: boxes 10 x 10 at the corner, or a raw error
    with pytest.raises(BackendError, match=r"non-finite box or score \(NaN/Inf\) for this frame"):
        t.postprocess(out, factors, clip[1].shape[:2])
    assert t.snapshot() == before


@pytest.mark.parametrize("pre", ["host", "device"])
def test_postprocess_after_targets_changed_since_preprocess_is_refused(clip, pre):
    from droptrack.runtime.build import build_tracker

    t = build_tracker(None, None, "cpu", pre=pre)
    t.initialize_many(clip[0], BOXES)
    search, factors = t.preprocess(clip[1])
    out = t.infer(search)
    t.remove_target(0)   # the remaining target got target 0's box, then an IndexError
    before = t.snapshot()
    with pytest.raises(InputError, match="preprocess the frame again after adding or removing targets"):
        t.postprocess(out, factors, clip[1].shape[:2])
    assert t.snapshot() == before


def test_a_closed_tracker_says_so_for_every_call(default, clip):
    t = Tracker(load_tracker(threads=1).backend)
    t.initialize_many(clip[0], BOXES)
    t.close()
    for call in (lambda: t.remove_target(0), t.snapshot, lambda: t.restore({"states": []}),
                 lambda: t.refresh_template(0, BOXES[0])):
        with pytest.raises(DropTrackError, match="the tracker is closed"):   # said no targets, returned {}, passed
            call()
