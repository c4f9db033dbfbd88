"""Tracker.restore with snapshots an application makes or keeps: one without extension memory (hand-made, or saved
before the memory was part of it) restores with fresh memory at its states; a malformed one is one TrackerStateError
line and changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import TrackerStateError
from droptrack.runtime.run import build_tracker
from test_python_api_inputs import BOX, clip  # noqa: F401 - shared fixtures

STATE = [50.0, 30.0, 32.0, 28.0]


@pytest.fixture(params=["host", "device"])
def ext_tracker(request, tiny_ckpt, clip):
    """A tracker with an extension on (size smoothing), so that restore reads the snapshot's memory."""
    t = build_tracker(str(tiny_ckpt), None, "cpu", pre=request.param, ext={"SIZE_LR": 0.6})
    t.initialize(clip[0], BOX)
    assert t.extensions is not None
    return t


@pytest.mark.parametrize("snap", [{"states": [STATE]}, {"states": [STATE], "memory": None}])
def test_a_snapshot_without_memory_restores_with_fresh_memory_at_its_states(ext_tracker, clip, snap):
    ext_tracker.restore(snap)
    assert ext_tracker.states == [STATE]
    mem = ext_tracker.extensions.memory
    assert len(mem) == 1 and mem[0].confident == STATE and (mem[0].since, mem[0].low, mem[0].wide) == (0, 0, False)
    assert ext_tracker.snapshot()["memory"][0]["confident"] == STATE
    box, _ = ext_tracker.track(clip[1])
    assert len(box) == 4 and all(np.isfinite(box))


@pytest.mark.parametrize("snap", [
    {"states": [STATE], "memory": [{"confident": STATE}]},              # a memory entry cut short
    {"states": [STATE], "memory": []},                                  # none for the one target
    {"states": [STATE], "memory": "x"},
    {"states": [["a", 1, 2, 3]]},                                       # a state that is not four numbers
    {"states": [[1, 2, 3]]},
    {"states": [[float("nan")] * 4]},
])
def test_a_malformed_snapshot_is_one_tracker_state_error_and_changes_nothing(ext_tracker, snap):
    before = ext_tracker.snapshot()
    with pytest.raises(TrackerStateError) as err:
        ext_tracker.restore(snap)
    text = str(err.value)
    assert "snapshot() returned" in text and "\n" not in text and text.count("; pass") == 1
    assert ext_tracker.snapshot() == before


def test_templates_of_another_shape_are_refused_before_anything_changes(ext_tracker):
    before = ext_tracker.snapshot()
    with pytest.raises(TrackerStateError) as err:
        ext_tracker.restore({"states": [STATE]}, templates=np.zeros((2, 3, 8, 8), np.float32))
    assert "templates of shape (2, 3, 8, 8)" in str(err.value)
    assert ext_tracker.snapshot() == before


@pytest.mark.parametrize("pre", ["host", "device"])
def test_a_snapshot_after_add_targets_restores_with_its_templates(tiny_ckpt, tmp_path, pre):
    """docs/python.md: a target started later took its template from a later frame; a fresh tracker initialised
    with as many targets on the first frame and given the templates copied with the snapshot goes on exactly as
    the tracker that made it (without them the added target's template would be the first frame's crop)."""
    from droptrack.data import generate_synth, get_sequences

    seq = get_sequences("synth", root=generate_synth(tmp_path / "s", 1, 14, seed=0, size=(160, 120), split="val"))[0]
    frames, gt = list(seq.iter_frames()), np.asarray(seq.boxes, dtype=float)
    a = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
    a.initialize_many(frames[0], [gt[0]])
    for f in frames[1:4]:
        a.track_many(f)
    a.add_targets(frames[4], [gt[4] + [4, 3, 0, 0]])
    for f in frames[5:8]:
        a.track_many(f)
    snap, templates = a.snapshot(), np.array(a.templates, copy=True)
    b = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
    b.initialize_many(frames[0], [gt[0], gt[0]])
    b.restore(snap, templates=templates)
    for f in frames[8:]:
        assert [r.box for r in b.track_many(f)] == [r.box for r in a.track_many(f)]
