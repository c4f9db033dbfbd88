"""`dt bench`'s "set too small" note: how many sequences would show an AUC drop within the gate.

The note sized the set for the interval's half-width to shrink to the gate, whatever its mean: an FP32 graph at
ΔAUC +4.88 [-0.24, +12.98] over 4 sequences against the 0.1-point gate was told 'about 17462 sequences', and an
INT8 graph whose mean ΔAUC -1.61 was itself beyond the 1-point gate was told 'about 60 sequences would narrow it to
the gate', as if more data would let it pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from droptrack.eval.bench_gates import DeltaCI, ci_note, paired_bootstrap_ci, sequences_for


@pytest.mark.parametrize("gate", [0.1, 0.5, 1.0])
def test_sequences_named_are_the_ones_that_lift_the_lower_end_to_the_gate(gate):
    """Independent check: the same 10 per-sequence differences repeated k times (the spread shrinks as 1/sqrt(k))
    give a bootstrap interval whose lower end clears -gate at the named count, and not one repetition earlier."""
    deltas = np.array([-6.0, -3.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.5])   # ΔAUC points per sequence, mean +1
    ci = paired_bootstrap_ci(deltas, np.zeros(10))
    assert ci.low < -gate                        # the 10-sequence interval straddles -gate: the note is due
    n = sequences_for(ci, gate)
    assert n is not None and n < math.ceil(10 * (ci.half_width / gate) ** 2) / 2   # the half-width rule: over twice as many
    k = math.ceil(n / 10)
    assert paired_bootstrap_ci(np.tile(deltas, k), np.zeros(10 * k)).low >= -gate
    assert paired_bootstrap_ci(np.tile(deltas, k - 1), np.zeros(10 * (k - 1))).low < -gate
    note = ci_note("model", ci, gate)
    assert note and "too small" in note and f"about {n} sequences" in note


def test_the_measured_fp32_case():
    # dt bench exp/model.onnx --reference OTHER.pt --official on 4 synthetic sequences
    ci = DeltaCI(4.88, -0.24, 12.98, 4)
    assert sequences_for(ci, 0.1) == math.ceil(4 * (5.12 / 4.98) ** 2) == 5


def test_a_mean_beyond_the_gate_is_not_promised_a_pass():
    # dt bench model_int8_trt.onnx on 4 synthetic sequences: ΔAUC -1.61 [-6.19, +1.55] against the 1-point gate
    ci = DeltaCI(-1.61, -6.19, 1.55, 4)
    assert sequences_for(ci, 1.0) is None
    note = ci_note("model_int8_trt", ci, 1.0)
    assert note and "-1.61" in note and "beyond the gate" in note and "sequences would" in note
    assert "about" not in note


def test_a_zero_point_gate_with_a_mean_at_or_below_zero_gets_no_count():
    """--max-auc-drop 0 with a mean ΔAUC of 0 said 'about 2 sequences would lift the interval's lower end to -0.00'
    for a 2-sequence set that had just failed: at a mean <= 0 no number of sequences lifts it to 0."""
    ci = DeltaCI(0.0, -0.4, 0.4, 2)
    assert sequences_for(ci, 0.0) is None
    note = ci_note("int8", ci, 0.0)
    assert "none would lift its lower end to -0.00" in note and "about" not in note
    assert sequences_for(DeltaCI(0.5, -0.5, 1.5, 4), 0.0) == 16   # a mean above 0: a count, 4 x (1 / 0.5)^2


def test_a_gate_finer_than_one_frames_step_is_named():
    """3 sequences x 40 frames: an exact FP32 graph one pixel off on one frame moved that sequence's AUC by
    100 / (40 x 21) = 0.119 points, past FP32's 0.10-point gate, and the bench failed it (exit 1) without a word."""
    from droptrack.eval.bench_gates import step_note

    per = {"a": {"frames": 40}, "b": {"frames": 40}, "c": {"frames": 60}}
    failing = DeltaCI(delta=-0.04, low=-0.119, high=0.0, sequences=3)
    assert step_note("model", per, failing, 0.1) == (
        "model: one frame whose IoU crosses one of the 21 thresholds moves the AUC of a sequence of 40 tracked frames "
        "by 0.12 points, more than the 0.10-point gate, so on sequences this short one frame a pixel off can fail it; "
        "bench sequences of 48+ tracked frames (--frames) or more sequences before reading it as a drop")
    assert step_note("model", per, DeltaCI(delta=0.0, low=-0.05, high=0.0, sequences=3), 0.1) is None   # passes
    assert step_note("model", per, failing, 1.0) is None                   # INT8's gate: coarser than a frame's step
    assert step_note("model", {"a": {"frames": 60}}, failing, 0.1) is None   # 100 / (60 x 21) = 0.079 < 0.1
