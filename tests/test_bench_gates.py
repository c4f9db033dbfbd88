"""`dt bench` verdicts: paired bootstrap ΔAUC interval on hand-computed cases, gate decisions, import direction."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import droptrack.eval as ev
from droptrack.eval.bench_gates import (DEFAULT_MAX_DIVERGENCE, DeltaCI, ci_note, divergence_note, divergence_spread,
                                        gate_text, paired_bootstrap_ci, row_gates, sequences_for)


def test_identical_results_give_a_zero_interval():
    a = np.array([55.0, 12.5, 70.25, 33.0])
    ci = paired_bootstrap_ci(a, a.copy())
    assert (ci.delta, ci.low, ci.high, ci.sequences) == (0.0, 0.0, 0.0, 4)


def test_constant_shift_gives_the_shift():
    ref = np.array([40.0, 60.0, 20.0, 80.0, 50.0])
    ci = paired_bootstrap_ci(ref - 1.5, ref)
    assert ci.delta == pytest.approx(-1.5) and ci.low == pytest.approx(-1.5) and ci.high == pytest.approx(-1.5)


def test_two_sequences_interval_by_hand():
    # differences (0, 2): a resample of 2 sequences has mean 0 (p 1/4), 1 (1/2) or 2 (1/4); the 2.5th and 97.5th
    # percentiles of that distribution are 0 and 2
    ci = paired_bootstrap_ci(np.array([10.0, 12.0]), np.array([10.0, 10.0]))
    assert ci.delta == 1.0 and ci.low == 0.0 and ci.high == 2.0


def test_one_bad_sequence_out_of_ten():
    # nine unchanged, one lost 30 points: mean -3; P(resample has no lost sequence) = 0.9^10 = 0.35 > 2.5 %, so the
    # upper end is 0; the lower end needs >= 3 lost draws (P(>=3) = 7.0 %, P(>=4) = 1.3 %) -> -12 or -9
    d = np.zeros(10)
    d[3] = -30.0
    ci = paired_bootstrap_ci(d, np.zeros(10))
    assert ci.delta == pytest.approx(-3.0) and ci.high == 0.0 and -12.0 <= ci.low <= -9.0


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        paired_bootstrap_ci(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        paired_bootstrap_ci(np.zeros(0), np.zeros(0))


def test_gate_decisions():
    inside = DeltaCI(-0.2, -0.6, 0.2, 30)
    by_name = {g.name: g for g in row_gates("int8", inside, 0.03, None)}
    assert by_name["max_auc_drop"].passed and by_name["max_auc_drop"].value == pytest.approx(0.6)
    assert by_name["max_divergence"].passed and "min_fps" not in by_name      # 3.0 % is at the INT8 limit
    fp16 = {g.name: g for g in row_gates("fp16", inside, 0.011, 30.0, min_fps=25.0)}
    assert fp16["max_auc_drop"].passed is False                                # -0.6 < -0.5: a drop not ruled out
    assert fp16["max_divergence"].passed is False and fp16["max_divergence"].threshold == 0.01
    assert fp16["min_fps"].passed is True
    assert row_gates("int8", inside, 0.031, None)[1].passed is False
    # a positive mean whose interval reaches below the gate still fails; explicit thresholds win
    wide = DeltaCI(0.8, -1.2, 2.8, 20)
    assert row_gates("int8", wide, 0.0, None)[0].passed is False
    explicit = row_gates("int8", wide, 0.05, None, max_auc_drop=1.5, max_divergence=0.1)
    assert [g.passed for g in explicit] == [True, True] and all(g.explicit for g in explicit)
    unmeasured = row_gates("fp16", None, None, None)
    assert [g.passed for g in unmeasured] == [None, None]
    assert DEFAULT_MAX_DIVERGENCE["fp16"] == 0.01 and DEFAULT_MAX_DIVERGENCE["int8"] == 0.03


def test_gate_text():
    g = row_gates("int8", DeltaCI(-1.0, -1.52, 0.1, 20), 0.041, None)
    assert gate_text(g[0]) == "AUC drop up to 1.52 > 1.00 points (95% CI)"
    assert gate_text(g[1]) == "diverged 4.1% > 3.0%"
    ok = row_gates("fp16", DeltaCI(0.1, -0.2, 0.3, 20), 0.0, 45.04, min_fps=30)
    assert [gate_text(x) for x in ok] == ["AUC drop up to 0.20 <= 0.50 points (95% CI)", "diverged 0.0% <= 1.0%",
                                          "FPS 45.0 >= 30"]


def test_gate_text_of_an_unchecked_gate_does_not_read_as_a_failure():
    """A gate with no value (no reference to compare with, no latency) read 'AUC drop up to n/a > 0.50 points' and
    'FPS n/a < 30' in bench.md, as if it had failed."""
    g = row_gates("fp16", None, None, None, min_fps=30)
    assert [gate_text(x) for x in g] == ["AUC drop n/a (not checked; limit 0.50 points)",
                                         "diverged n/a (not checked; limit 1.0%)", "FPS n/a (not checked; limit 30)"]


def test_too_small_set_is_named():
    ci = DeltaCI(0.0, -2.0, 2.0, 20)
    assert sequences_for(ci, 0.5) == 320                                       # 20 * (2 / 0.5)^2
    note = ci_note("model_fp16", ci, 0.5)
    assert note and "too small" in note and "320 sequences" in note
    assert ci_note("model_fp16", DeltaCI(0.0, -0.2, 0.2, 20), 0.5) is None
    assert ci_note("x", None, 0.5) is None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_bench_modules_import_one_way():
    folder = Path(ev.__file__).parent
    assert "droptrack.eval.bench" not in _imports(folder / "bench_report.py")
    assert "droptrack.eval.bench_report" in _imports(folder / "bench.py")
    for part in ("bench_view.py", "bench_plot.py"):   # what bench_report.py draws on: below it
        assert not {"droptrack.eval.bench", "droptrack.eval.bench_report"} & _imports(folder / part), part
    gates = _imports(folder / "bench_gates.py")
    assert not {m for m in gates if m.startswith("droptrack.eval.bench")}


def test_divergence_spread_and_note_by_hand():
    # 4 sequences of 50 frames (200 in all); 12 diverged frames in one, 2 in another: rate 7 %, the largest alone 6 %
    per = {"a": {"divergence": 12 / 50, "frames": 50}, "b": {"divergence": 2 / 50, "frames": 50},
           "c": {"divergence": 0.0, "frames": 50}, "d": {"divergence": 0.0, "frames": 50}}
    k, n, top = divergence_spread(per)
    assert (k, n) == (2, 4) and top == pytest.approx(12 / 200)
    note = divergence_note("model_fp16", per, 0.03)
    assert note is not None and "2 of 4 sequences" in note and "6.0% of all frames" in note and "3.0%" in note
    assert divergence_note("model_fp16", per, 0.07) is None          # the largest (6 %) is under this limit
    # frames are weighted: the same 12 frames in a 100-frame sequence are 12 / 250 = 4.8 % of all frames
    per["a"] = {"divergence": 12 / 100, "frames": 100}
    assert divergence_spread(per)[2] == pytest.approx(12 / 250)
    clean = {s: {"divergence": 0.0, "frames": 50} for s in "abcd"}
    assert divergence_spread(clean) == (0, 4, 0.0) and divergence_note("x", clean, 0.01) is None


def test_diverged_cell_names_the_sequences():
    from types import SimpleNamespace

    from droptrack.eval.bench_view import _diverged

    p = SimpleNamespace(divergence=0.07, per_sequence={"a": {"divergence": 0.24, "frames": 50},
                                                       "b": {"divergence": 0.04, "frames": 50},
                                                       "c": {"divergence": 0.0, "frames": 50}})
    assert _diverged(p) == "7.0% (2/3)"
    assert _diverged(None) == "-" and _diverged(SimpleNamespace(divergence=None, per_sequence={})) == "-"


def test_interval_wholly_beyond_the_gate_is_not_called_too_small():
    # dt bench on 3 sequences gave INT8 [-4.60, -1.90] against a 1-point gate: every value in it is a drop larger than
    # the gate, so the set already shows the failure; 'too small to show the drop is within the gate' misled
    assert ci_note("model_int8_ort", DeltaCI(-3.17, -4.60, -1.90, 3), 1.0) is None
    note = ci_note("model_int8_ort", DeltaCI(-1.5, -4.60, 0.2, 3), 1.0)   # straddles -1: too small to tell
    assert note and "too small" in note


def test_divergence_note_only_when_that_one_sequence_decides():
    # 3 sequences of 30 frames (90): 17, 3 and 3 diverged frames, rate 23/90 = 25.6 %, the largest alone 18.9 %; with a
    # 3 % limit the other two still give 6/90 = 6.7 % > 3 %: the gate fails whether or not the largest flips
    per = {"a": {"divergence": 17 / 30, "frames": 30}, "b": {"divergence": 3 / 30, "frames": 30},
           "c": {"divergence": 3 / 30, "frames": 30}}
    assert divergence_note("model_int8_trt", per, 0.03) is None
    # with a 7 % limit the other two (6.7 %) pass: the largest sequence alone decides the verdict
    note = divergence_note("model_int8_trt", per, 0.07)
    assert note and "one sequence that flips decides this gate" in note


def test_baseline_row_without_gates_reads_as_not_gated():
    # an OpenCV baseline has no reference and, without --min-fps, no gate: its Status cell said '✅ passed'
    from droptrack.eval.bench_gates import Gate
    from droptrack.eval.bench_report import _row_dict
    from droptrack.eval.bench_rows import BenchRow
    from droptrack.eval.bench_view import row_cells

    base = BenchRow("csrt", "opencv:csrt", "opencv", precision="-")
    assert row_cells(base)[3] == "— (baseline, no gates)"
    assert (_row_dict(base)["status"], _row_dict(base)["gated"]) == ("passed", False)   # status kept for old readers
    base.gates = [Gate("min_fps", 20.0, 31.0, True, True)]
    assert row_cells(base)[3] == "✅ passed" and _row_dict(base)["gated"] is True
    base.gates, base.status = [Gate("min_fps", 40.0, 31.0, False, True)], "gate_failed"
    assert row_cells(base)[3] == "❎ gate failed"


def test_a_delta_auc_of_one_sequence_is_said_to_judge_that_sequence_only():
    # dt bench on one real clip: FP32 ONNX parted from PyTorch by 2 px at frame 78, ΔAUC -1.55 with the "interval"
    # [-1.55, -1.55]: resampling one sequence returns it, so the width (0) said nothing about another set
    note = ci_note("model", DeltaCI(-1.55, -1.55, -1.55, 1), 0.1)
    assert note and "1 sequence" in note and "-1.55" in note and "20 or more" in note
    assert ci_note("model", DeltaCI(0.0, 0.0, 0.0, 1), 0.1)   # also when it passes: one sequence proves nothing
    assert ci_note("model", DeltaCI(0.0, -0.05, 0.05, 2), 0.1) is None


def test_a_zero_drop_reads_0_00_not_minus_0_00():
    """An export whose per-sequence AUCs equal its reference's has the interval [0, 0]: bench.md and the gate line
    read 'AUC drop up to -0.00' and bench.json held -0.0."""
    import math

    exact = row_gates("fp32", DeltaCI(0.0, 0.0, 0.0, 4), 0.0, None)[0]
    assert math.copysign(1.0, exact.value) == 1.0
    assert gate_text(exact) == "AUC drop up to 0.00 <= 0.10 points (95% CI)"
    assert gate_text(row_gates("fp32", DeltaCI(0.01, 0.001, 0.02, 4), 0.0, None)[0]).startswith("AUC drop up to 0.00 ")


def test_interval_wholly_within_the_gate_is_not_called_too_small():
    # dt bench on 4 synthetic sequences gave FP16 [+0.77, +2.08] (±0.65) against a 0.5-point gate: its lower end is
    # above -0.5, so the AUC gate passed, yet the note said the set was 'too small to show the drop is within the gate'
    ci = DeltaCI(1.42, 0.77, 2.08, 4)
    assert row_gates("fp16", ci, 0.0, None)[0].passed
    assert ci_note("model_fp16", ci, 0.5) is None
    assert ci_note("model_fp16", DeltaCI(0.3, -0.5, 1.1, 4), 0.5) is None        # lower end on the gate: passes
    note = ci_note("model_fp16", DeltaCI(0.3, -0.6, 1.2, 4), 0.5)                 # straddles -0.5: too small to tell
    assert note and "too small" in note and not row_gates("fp16", DeltaCI(0.3, -0.6, 1.2, 4), 0.0, None)[0].passed
