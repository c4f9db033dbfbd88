"""A mistyped option's suggestions are matched on its name, not on the '--' every option shares: `dt eval --start 5`
(dt run's option, which dt eval has not) suggested --dataset and --root; now nothing, while a real typo still gets
the option it misspells."""

from __future__ import annotations

import pytest

from helpers import cli, one_line_error


@pytest.mark.parametrize("args, unknown", [(["eval", "--dataset", "synth", "--start", "5"], "--start"),
                                           (["eval", "--dataset", "synth", "--cpu"], "--cpu")])
def test_an_option_like_none_gets_no_suggestion(args, unknown):
    line = one_line_error(cli(*args))
    assert f"No such option: {unknown}" in line and "Possible options" not in line, line


@pytest.mark.parametrize("args, meant", [(["eval", "--datset", "synth"], "--dataset"),
                                         (["eval", "--dataset", "synth", "--modle", "x.pt"], "--model"),
                                         (["run", "clip.mp4", "--strat", "3"], "--start"),
                                         (["data", "synth", "out", "--frame", "3"], "--frames")])
def test_a_typo_gets_the_option_it_misspells(args, meant):
    line = one_line_error(cli(*args))
    assert f"(Possible options: {meant})" in line, line
