"""SCALE_GATE (runtime/extensions.py): a target's extra scale-search crops run only after a frame whose normal crop
scored under the gate. Hand-computed batch layouts and winners on scripted scores, a confident run equal to the
procedure without scale search, host = device = resumed, the option's checks and an old journal's memory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from droptrack.cli.ext_options import ext_overrides
from droptrack.config import meta_from_config
from droptrack.engine.torch_backend import TorchBackend
from droptrack.errors import ConfigError
from droptrack.runtime.ext_overrides import merge_overrides
from droptrack.runtime.extensions import TargetMemory, TrackerExt
from droptrack.runtime.snapshot import memory_from_dict
from droptrack.runtime.tracker import Tracker
from helpers import cli, one_line_error
from test_tracker_ext import ScriptedBackend, check_host_device_and_resume, frames, run, tiny

__all__ = ["frames", "tiny"]   # fixtures, used by name


class RecordingBackend(ScriptedBackend):
    """ScriptedBackend that keeps every template and search batch it was given."""

    def __init__(self, meta, scores):
        super().__init__(meta, scores)
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []

    def _infer(self, template, search):
        self.seen.append((np.array(template), np.array(search)))
        return super()._infer(template, search)


def test_gated_batches_and_winners_hand_computed(tiny):
    meta = meta_from_config(tiny[1])
    # A at (140,100) 40x40, B at (30,50) 20x60. Frame 1: every crop (no score yet): A 0.6 / 0.5, B 0.3 / 0.9.
    # Frame 2: A scored 0.6 >= 0.5 -> its normal crop only; B 0.3 -> both: scores A 0.4, B 0.2 / 0.7 (0.665 wins).
    # Frame 3: A 0.4 and B 0.2 under the gate -> both crops each.
    scores = [[0.6, 0.5, 0.3, 0.9], [0.4, 0.2, 0.7], [0.5, 0.1, 0.5, 0.1]]
    backend = RecordingBackend(meta, scores)
    tracker = Tracker(backend, TrackerExt(scale_search=[0.8], scale_penalty=0.95, scale_gate=0.5))
    frame = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    tracker.initialize_many(frame, [[140.0, 100.0, 40.0, 40.0], [30.0, 50.0, 20.0, 60.0]])
    a, b = tracker.templates
    first = tracker.track_many(frame)
    assert [r.score for r in first] == pytest.approx([0.6, 0.9], abs=1e-6)   # B: 0.9 x 0.95 = 0.855 > 0.3
    b_state = list(tracker.states[1])
    second = tracker.track_many(frame)
    tracker.track_many(frame)
    assert [len(s) for _, s in backend.seen] == [4, 3, 4]
    template, search = backend.seen[1]
    assert [np.array_equal(t, r) for t, r in zip(template, (a, b, b))] == [True, True, True]
    assert not np.array_equal(template[0], template[1])
    assert [r.score for r in second] == pytest.approx([0.4, 0.7], abs=1e-6)
    # B's box on frame 2 comes from its 0.8 crop: a quarter of ceil(sqrt(w h) x 4 x 0.8) around its old centre
    side = math.ceil(math.sqrt(b_state[2] * b_state[3]) * meta.search_factor * 0.8)
    assert second[1].box[2] == pytest.approx(side / 4, abs=1e-3)


def test_a_confident_track_is_the_procedure_without_scale_search(tiny, frames):
    """With a gate every score reaches, frame 1 is scale search's (no score yet) and every later frame is the normal
    crop's alone: the boxes of a tracker without scale search continued from frame 1's state."""
    model, cfg = tiny
    init = [50.0, 40.0, 24.0, 30.0]
    ss = {"scale_search": [0.7, 1.3], "scale_penalty": 1.0}   # the extra scales win on these frames
    gated = Tracker(TorchBackend(model, cfg), TrackerExt(**ss, scale_gate=1e-6))
    boxes = run(gated, frames, init)
    searched = Tracker(TorchBackend(model, cfg), TrackerExt(**ss))
    plain = Tracker(TorchBackend(model, cfg), TrackerExt())   # the official procedure
    searched.initialize(frames[0], init)
    plain.initialize(frames[0], init)
    expected = [init, searched.track(frames[1])[0]]
    plain.states[0] = list(searched.states[0])
    expected += [plain.track(f)[0] for f in frames[2:]]
    np.testing.assert_allclose(boxes, expected, rtol=0, atol=1e-4)
    ungated = run(Tracker(TorchBackend(model, cfg), TrackerExt(**ss)), frames, init)
    assert np.abs(np.asarray(ungated) - np.asarray(boxes)).max() > 1.0   # the gate did change the track


def test_gated_host_device_and_resumed_runs_agree(tiny):
    scores = [[0.9, 0.2, 0.3, 0.6], [0.3, 0.2, 0.95], [0.7, 0.1, 0.2, 0.9], [0.1, 0.6, 0.5]]
    ext = TrackerExt(scale_search=[0.8], scale_penalty=0.9, scale_gate=0.5)
    host = check_host_device_and_resume(tiny[1], scores, ext)
    assert [m.peak for m in host.extensions.memory] == pytest.approx([0.1, 0.6], abs=1e-6)


def test_an_old_journal_without_peak_searches_every_scale():
    ext = TrackerExt(scale_search=[0.8], scale_gate=0.5)
    like = TargetMemory([1.0, 2.0, 3.0, 4.0])
    saved = TargetMemory([1.0, 2.0, 3.0, 4.0], peak=0.75).to_dict()
    assert memory_from_dict(saved, ext, like).peak == 0.75
    del saved["peak"]
    assert memory_from_dict(saved, ext, like).peak == 0.0
    with pytest.raises(ValueError, match="peak"):
        memory_from_dict({**saved, "peak": "high"}, ext, like)


def test_scale_gate_option_range_and_dependency(tmp_path):
    res = cli("run", tmp_path / "clip.mp4", "--init", "1,1,8,8", "--scale-gate", "0")
    assert one_line_error(res) == "error: --scale-gate: 0 is out of range; allowed: a finite number in (0, 1] or off"
    with pytest.raises(ConfigError) as err:
        merge_overrides({}, ext_overrides(False, scale_gate="0.5"))
    assert str(err.value) == ("--scale-gate does nothing without --scale-search (this model's TEST.SCALE_SEARCH is "
                              "off); add --scale-search or drop --scale-gate")
    model = {"SCALE_SEARCH": [0.8], "SCALE_GATE": 0.5}
    assert merge_overrides(model, ext_overrides(False, scale_gate="off")).scale_gate is None
    assert merge_overrides(model, ext_overrides(False, scale_gate="0.7")).scale_gate == 0.7
    assert "gated at 0.5" in merge_overrides(model, None).describe()
