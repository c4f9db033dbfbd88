"""The cost of a kept group in dt export --auto-precision's notes: a cost within timing noise reads +0.00 ms, never
the '-0.00 ms' a negative zero or a rounded-away negative printed."""

from __future__ import annotations

import pytest

from droptrack.export.auto_precision import kept_cost


@pytest.mark.parametrize("ms, text", [(-0.0, "+0.00 ms"), (-0.004, "+0.00 ms"), (0.123, "+0.12 ms"),
                                      (-0.5, "-0.50 ms"), (1.0, "+1.00 ms")])
def test_cost_text(ms, text):
    assert kept_cost({"block2.qkv": ms}, "block2.qkv") == text


def test_untimed_group():
    assert kept_cost({}, "block2.qkv") == "not timed"
