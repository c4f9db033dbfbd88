"""The tracker-extension options' errors quoted the value as Python holds it and the YAML word for 'no value':
`dt run ... --scale-search 0.1,0.8` said "--scale-search: ['0.1', '0.8'] is out of range; allowed: a list of finite
numbers in [0.25, 4] or null", and --template-refresh 1.2 offered 'null', which no option takes. They now show the
value as typed and 'off' where the option takes it (--scale-search, --crop-grid); YAML keys keep their wording."""

from __future__ import annotations

import pytest

from droptrack.errors import ConfigError
from droptrack.runtime.extensions import TrackerExt
from helpers import cli, one_line_error


@pytest.mark.parametrize("option, value, line", [
    ("--scale-search", "0.1,0.8", "error: --scale-search: 0.1,0.8 is out of range; allowed: a list of at most 8 "
                                  "finite numbers in [0.25, 4] or off"),
    ("--scale-search", ",".join(["0.8"] * 9), "error: --scale-search: " + ",".join(["0.8"] * 9) + " has 9 items; "
                                              "allowed: a list of at most 8 finite numbers in [0.25, 4] or off"),
    ("--crop-grid", "abc", "error: --crop-grid: abc is not a number; allowed: a finite number in (0, 0.25] or off"),
    ("--template-refresh", "1.2", "error: --template-refresh: 1.2 is out of range; allowed: a finite number in "
                                  "[0, 1]"),
    ("--reacq-center", "middle", "error: --reacq-center: middle is not supported; allowed: one of 'last', 'motion' "
                                 "(the last confident box or its constant-velocity prediction)"),
])
def test_dt_run_names_the_value_as_typed(tmp_path, option, value, line):
    res = cli("run", tmp_path / "clip.mp4", "--init", "1,1,8,8", option, value)
    assert one_line_error(res) == line


def test_yaml_keys_keep_their_wording():
    with pytest.raises(ConfigError) as err:
        TrackerExt.from_keys({"SCALE_SEARCH": [0.1]})
    assert str(err.value) == ("TEST.SCALE_SEARCH: [0.1] is out of range; allowed: a list of at most 8 finite numbers "
                              "in [0.25, 4] or null")
