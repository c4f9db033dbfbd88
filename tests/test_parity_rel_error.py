"""dt export's parity 'max rel' is Polygraphy's max reldiff: elementwise |out - ref| / |ref| (a zero reference read as
float64 epsilon), not the max abs error scaled by the largest reference value."""

from __future__ import annotations

import math

import numpy as np

from droptrack.export.parity import output_stats


def _outs(values):
    return {k: np.asarray(v, np.float32).reshape(1, -1) for k, v in
            zip(("score_map", "size_map", "offset_map"), values)}


def test_max_rel_is_elementwise():
    out = _outs([[1.0, 2.25, 0.0], [4.0, 4.0], [1.0, 1.0]])
    ref = _outs([[1.0, 2.0, 0.5], [4.0, 4.0], [1.0, 1.0]])
    score = output_stats([out], [ref])[0]
    # |d| = 0, 0.25, 0.5 over |ref| = 1, 2, 0.5 -> 0, 0.125, 1.0 (the scaled form gave 0.5 / 2 = 0.25)
    assert score.max_abs == 0.5
    assert math.isclose(score.max_rel, 1.0, rel_tol=1e-12)
    assert math.isclose(score.cosine, (1 + 4.5) / (math.sqrt(1 + 2.25 ** 2) * math.sqrt(1 + 4 + 0.25)), rel_tol=1e-9)


def test_zero_reference_reads_as_epsilon():
    out = _outs([[0.0, 1e-6], [1.0], [1.0]])
    ref = _outs([[0.0, 0.0], [1.0], [1.0]])
    score = output_stats([out], [ref])[0]
    assert math.isclose(score.max_rel, float(np.float32(1e-6)) / 2.220446049250313e-16, rel_tol=1e-9)
    assert output_stats([out], [ref])[1].max_rel == 0.0
