"""dt train's out-of-range options offered 'or null' ('--epochs: 0 is out of range; allowed: an integer >= 1 or
null'), a YAML word no command-line option takes (leaving the option out is how to get the config's value)."""

from __future__ import annotations

import pytest

from helpers import cli, one_line_error


@pytest.mark.parametrize("option, value, allowed", [
    ("--epochs", "0", "an integer >= 1"), ("--batch-size", "0", "an integer >= 1"),
    ("--workers", "-1", "an integer >= 0"), ("--amp", "fp8", "one of "),
])
def test_an_out_of_range_option_offers_no_null(tmp_path, option, value, allowed):
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "--data", tmp_path, "-o", tmp_path / "run",
                              "--device", "cpu", option, value))
    assert line.startswith(f"error: {option}: ") and f"allowed: {allowed}" in line, line
    assert "null" not in line, line
    assert not (tmp_path / "run").exists()
