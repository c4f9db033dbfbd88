"""dt bench's divergence among the frames where the reference is on the target: a gate that fails only on frames
the reference has lost as well is named as such (hand-computed boxes)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from droptrack.eval.bench_gates import on_target_note
from droptrack.eval.bench_reference import Reference, parity

GT = [10, 10, 20, 20]
LOST = [100, 100, 20, 20]


def _boxes(*rows):
    return np.array(rows, np.float64)


def _parity(truth: bool):
    # frame 0 is the init frame (excluded); the reference is on the target in frames 1-2 and lost in 3-4
    seq = SimpleNamespace(name="a", boxes=_boxes(GT, GT, GT, GT, GT))
    ref = Reference("ref.pt", "0" * 64, boxes={"a": _boxes(GT, GT, GT, LOST, LOST)}, accuracy={"auc": 0.5},
                    seq_auc={"a": 0.5})
    # the row agrees in frame 1, parts in frame 2 (the reference on target) and in frames 3-4 (both lost)
    row = SimpleNamespace(boxes={"a": _boxes(GT, GT, [50, 50, 20, 20], [200, 200, 20, 20], [200, 200, 20, 20])},
                          accuracy={"auc": 0.4}, seq_auc={"a": 0.4})
    return parity(row, ref, [seq], truth=truth)


def test_divergence_on_target_counts_only_frames_the_reference_tracks():
    p = _parity(truth=True)
    assert p.frames == 4 and p.divergence == 0.75          # 3 of 4 tracked frames diverged
    assert p.frames_on_target == 2 and p.divergence_on_target == 0.5   # 1 of the 2 where the reference is right
    plain = _parity(truth=False)                            # no ground truth (a video scored against the reference)
    assert plain.divergence == 0.75 and plain.divergence_on_target is None and plain.frames_on_target == 0


def test_note_only_when_the_gate_fails_off_target():
    p = _parity(truth=True)
    note = on_target_note("int8", p, 0.6)                   # 75 % > 60 %, but 50 % on target <= 60 %
    assert note is not None and note.startswith("int8: 75.0% of frames diverged, but 50.0% of the 2 frames")
    assert on_target_note("int8", p, 0.4) is None            # it fails on target too: nothing to qualify
    assert on_target_note("int8", p, 0.8) is None            # it passes: nothing to explain
    assert on_target_note("int8", _parity(truth=False), 0.6) is None
