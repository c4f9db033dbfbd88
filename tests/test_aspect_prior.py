"""ASPECT_PRIOR (runtime/box_shape.py `toward_aspect`, `Extensions.reported`): the reported box's w / h is drawn
toward the init box's in log space, its centre and area kept, then clipped; the tracker's state, and so every crop,
is left alone (report only, as ANCHOR_BOX 'report')."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from droptrack.cli.ext_options import ext_overrides
from droptrack.config import meta_from_config
from droptrack.errors import ConfigError
from droptrack.runtime.box_shape import toward_aspect
from droptrack.runtime.ext_overrides import merge_overrides
from droptrack.runtime.extensions import Extensions, TargetMemory, TrackerExt
from droptrack.runtime.resume import _settings
from droptrack.runtime.snapshot import memory_from_dict
from droptrack.runtime.tracker import Tracker
from test_tracker_ext import ScriptedBackend, check_host_device_and_resume, tiny  # noqa: F401 (fixture)

INITS = [[140.0, 100.0, 40.0, 40.0], [30.0, 50.0, 20.0, 60.0]]   # host_and_device's: square, and 1:3


def test_toward_aspect_on_hand_computed_boxes():
    # 40 x 10 (w/h 4) halfway to 1 in log space: w/h 2 at area 400, so 20 sqrt 2 x 10 sqrt 2 about (20, 5)
    w, h = 20 * math.sqrt(2), 10 * math.sqrt(2)
    assert toward_aspect([0.0, 0.0, 40.0, 10.0], 1.0, 0.5) == pytest.approx([20 - w / 2, 5 - h / 2, w, h])
    # a quarter of the way to 1/4: 4^0.75 * (1/4)^0.25 = 2, the same box
    assert toward_aspect([0.0, 0.0, 40.0, 10.0], 0.25, 0.25) == pytest.approx([20 - w / 2, 5 - h / 2, w, h])
    assert toward_aspect([0.0, 0.0, 40.0, 10.0], 1.0, 1.0) == pytest.approx([10.0, -5.0, 20.0, 20.0])
    assert toward_aspect([3.0, 4.0, 40.0, 10.0], 1.0, 0.0) == [3.0, 4.0, 40.0, 10.0]
    assert toward_aspect([3.0, 4.0, 0.0, 10.0], 1.0, 0.5) == [3.0, 4.0, 0.0, 10.0]   # no area: as it is


def run(cfg, ext: TrackerExt, scores: list, frame: np.ndarray, inits=INITS) -> tuple[list, list]:
    """Reported boxes and states per frame of a host Tracker over scripted maps (square network boxes)."""
    tracker = Tracker(ScriptedBackend(meta_from_config(cfg), scores), ext)
    tracker.initialize_many(frame, inits)
    boxes, states = [], []
    for _ in scores:
        boxes.append([r.box for r in tracker.track_many(frame)])
        states.append([list(s) for s in tracker.states])
    return boxes, states


def test_the_state_is_the_networks_and_the_reported_shape_moves_toward_the_init_box(tiny):  # noqa: F811
    scores = [[0.9, 0.5, 0.9, 0.95], [0.4, 0.5, 0.8, 0.1], [0.7, 0.1, 0.2, 0.6]]   # two crops a target
    frame = np.zeros((240, 320, 3), np.uint8)
    plain_boxes, plain_states = run(tiny[1], TrackerExt(scale_search=[0.8]), scores, frame)
    boxes, states = run(tiny[1], TrackerExt(scale_search=[0.8], aspect_prior=0.25), scores, frame)
    assert states == plain_states                       # every crop is the one without the prior, to the last bit
    for k, (got, want) in enumerate(zip(boxes, plain_boxes)):
        assert want[0] == pytest.approx(got[0], abs=1e-9), k   # the square target reports its square box
        (x, y, w, h), (px, py, pw, ph) = got[1], want[1]
        assert pw == pytest.approx(ph)                         # the network's box is square here ...
        assert w / h == pytest.approx((1 / 3) ** 0.25, rel=1e-9)   # ... the 1:3 target's a quarter of the way
        assert w * h == pytest.approx(pw * ph, rel=1e-9)
        assert (x + w / 2, y + h / 2) == pytest.approx((px + pw / 2, py + ph / 2), abs=1e-9)


def test_a_reported_box_is_clipped_to_the_frame():
    ext = Extensions(TrackerExt(aspect_prior=1.0), 4.0)
    ext.reset([[0.0, 0.0, 10.0, 100.0]])   # a pole at the top left: w / h 0.1
    # a 40 x 40 box at the corner drawn to 0.1 at its area: 4 sqrt 10 x 40 sqrt 10 about (20, 20), its top cut off
    w, h = 4 * math.sqrt(10), 40 * math.sqrt(10)
    assert ext.reported(0, [0.0, 0.0, 40.0, 40.0], (240, 320)) == pytest.approx([20 - w / 2, 0.0, w, 20 + h / 2])
    off = Extensions(TrackerExt(), 4.0)
    off.reset([[0.0, 0.0, 10.0, 100.0]])
    assert off.reported(0, [-5.0, 0.0, 40.0, 40.0], (240, 320)) == [-5.0, 0.0, 40.0, 40.0]   # without it: as given


def test_host_and_device_trackers_and_a_resumed_run_report_the_same_boxes(tiny):  # noqa: F811
    scores = [[0.9, 0.95, 0.2, 0.4], [0.3, 0.2, 0.5, 0.9], [0.6, 0.7, 0.1, 0.1]]
    # the resumed run starts on other init boxes: the journal's aspects win
    host = check_host_device_and_resume(tiny[1], scores, TrackerExt(scale_search=[0.8], aspect_prior=0.5),
                                        resume_inits=[[10.0, 10.0, 50.0, 20.0]] * 2)
    assert [m.aspect for m in host.extensions.memory] == pytest.approx([1.0, 1 / 3])


def test_the_key_is_checked_off_by_default_and_official_turns_it_off():
    assert TrackerExt().aspect_prior is None and not TrackerExt().active
    assert TrackerExt.from_keys({"ASPECT_PRIOR": 0.25}).active
    for bad in (-0.1, 1.5, "x"):
        with pytest.raises(ConfigError, match="ASPECT_PRIOR"):
            TrackerExt.from_keys({"ASPECT_PRIOR": bad})
    with pytest.raises(ConfigError, match="--aspect-prior: 2 is out of range"):
        merge_overrides({}, ext_overrides(False, aspect_prior="2"))
    assert merge_overrides({"ASPECT_PRIOR": 0.25}, ext_overrides(False, aspect_prior="off")).aspect_prior is None
    assert merge_overrides({"ASPECT_PRIOR": 0.25}, ext_overrides(True)).aspect_prior is None   # --official
    said = TrackerExt.from_keys({"ASPECT_PRIOR": 0.25}).describe()
    assert said == "official + aspect prior 0.25 (reported box)", said


def test_the_memory_keeps_the_init_aspect_through_json_and_old_journals_read_as_before():
    on, init = TrackerExt(aspect_prior=0.25), TargetMemory([1.0, 2.0, 30.0, 60.0], aspect=0.5)
    mem = TargetMemory([5.0, 6.0, 40.0, 60.0], aspect=0.25)
    assert memory_from_dict(json.loads(json.dumps(mem.to_dict())), on, init).aspect == 0.25
    old = TargetMemory([5.0, 6.0, 40.0, 60.0]).to_dict()   # a journal from before the key: the init box's, as started
    assert "aspect" not in old and memory_from_dict(old, on, init).aspect == 0.5
    assert memory_from_dict(mem.to_dict(), TrackerExt(), TargetMemory([1.0, 2.0, 30.0, 60.0])).aspect is None

    def identity(ext: TrackerExt) -> dict:
        opts = SimpleNamespace(lost_threshold=0.3, fps=None, jsonl=None, output=None)
        return _settings(opts, [[1.0, 2.0, 3.0, 4.0]], SimpleNamespace(ext=ext), [])["tracker"]

    assert "aspect_prior" not in identity(TrackerExt())   # a journal written before the key still matches
    assert identity(TrackerExt(aspect_prior=0.25))["aspect_prior"] == 0.25
