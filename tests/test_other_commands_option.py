"""An option given to a command that lacks it but another dt command takes (`dt bench --realtime-fps 30`: real-time
scoring is dt eval's) names that command; Click said only 'No such option: --realtime-fps'."""

from __future__ import annotations

import pytest

from helpers import cli, one_line_error


@pytest.mark.parametrize("args, option, owners", [(["bench", "x.onnx", "--realtime-fps", "30"], "--realtime-fps",
                                                   "dt eval takes it"),
                                                  (["eval", "--dataset", "synth", "--start", "5"], "--start",
                                                   "dt run takes it"),
                                                  (["run", "v.mp4", "--predict"], "--predict", "dt eval takes it")])
def test_the_command_that_takes_the_option_is_named(args, option, owners):
    res = cli(*args)
    line = one_line_error(res)
    assert res.exit_code == 2 and f"No such option: {option}" in line, line
    assert f"; {owners}, dt {args[0]} does not (see 'dt {args[0]} --help')" in line, line

def test_an_option_no_command_takes_is_left_as_click_says_it():
    line = one_line_error(cli("eval", "--dataset", "synth", "--cpu"))
    assert line == "error: dt eval: No such option: --cpu (see 'dt eval --help')", line
