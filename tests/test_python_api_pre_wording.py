"""A bad `pre` given to the Python API's `build_tracker` names its argument and Python's strings (before, it said
"--pre 'x' must be auto, host or device": an option the caller never typed); dt run and dt serve refuse a bad --pre
in their option wording, with their other option checks, before any model is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from droptrack.errors import InputError
from droptrack.runtime.build import build_tracker
from helpers import cli, drifting_clip, one_line_error


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return drifting_clip(tmp_path_factory.mktemp("clip"), 4)


@pytest.mark.parametrize("pre, shown", [("x", "'x'"), ("HOST", "'HOST'"), (None, "None")])
def test_build_tracker_names_its_pre_argument(tiny_ckpt, pre, shown):
    with pytest.raises(InputError) as info:
        build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
    assert str(info.value) == (f"pre={shown} must be 'auto', 'host' or 'device' (where pre/post-processing runs; "
                               "'auto': device on CUDA, host on CPU)")


@pytest.mark.parametrize("command", [["run", "--init", "30,22,26,20"], ["serve"]])
def test_dt_run_and_serve_keep_the_option_wording(clip, tmp_path, command):
    model = tmp_path / "missing.pt"                  # refused before the model is read: the options come first
    line = one_line_error(cli(command[0], clip, *command[1:], "-m", model, "--device", "cpu", "--pre", "x"))
    assert line == "error: --pre 'x' must be auto, host or device"
