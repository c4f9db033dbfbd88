"""Tracker extension settings (runtime/extensions.py) without a model: defaults shared with the config, the
hand-computed size update, one-line errors for bad values, and the one-line description."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.config import config_from_dict
from droptrack.errors import ConfigError, InputError
from droptrack.runtime.extensions import KEYS, TrackerExt, smooth_size


def test_extension_defaults_are_the_config_defaults():
    """TrackerExt and the config's TEST section agree on every default (one set of keys, two places)."""
    from droptrack.config import TestCfg

    assert TrackerExt.from_keys({k: getattr(TestCfg(), k) for k in KEYS}) == TrackerExt()
    assert not TrackerExt().active


def test_size_update_hand_computed():
    prev = [10.0, 20.0, 100.0, 50.0]
    pred = [170.0, 120.0, 60.0, 60.0]                      # centre (200, 150)
    # lr = 0.6 * 0.5 = 0.3: w = 100 + 0.3 * (60 - 100) = 88, h = 50 + 0.3 * (60 - 50) = 53, same centre
    assert smooth_size(prev, pred, 0.5, TrackerExt(size_lr=0.6)) == pytest.approx([156.0, 123.5, 88.0, 53.0])
    # aspect 2:1 -> 1:1, change 2: lr = 0.3 * exp(-1 * (2 - 1)) = 0.110364; w = 100 - 40 lr, h = 50 + 10 lr
    got = smooth_size(prev, pred, 0.5, TrackerExt(size_lr=0.6, aspect_penalty=1.0))
    assert got == pytest.approx([200 - 95.58545 / 2, 150 - 51.10364 / 2, 95.58545, 51.10364], abs=1e-4)
    # the rate never exceeds 1: SIZE_LR 1 with score 1 takes the prediction
    assert smooth_size(prev, pred, 1.0, TrackerExt(size_lr=1.0)) == pytest.approx(pred)
    # SIZE_LR 2.5: a 0.5 score is confident enough (rate min(1, 1.25) = 1), a 0.2 score moves half way
    assert smooth_size(prev, pred, 0.5, TrackerExt(size_lr=2.5)) == pytest.approx(pred)
    assert smooth_size(prev, pred, 0.2, TrackerExt(size_lr=2.5)) == pytest.approx([160.0, 122.5, 80.0, 55.0])
    assert smooth_size(prev, pred, 0.9, TrackerExt()) == pred   # off


def test_bad_extension_values_are_one_line_errors():
    runner = CliRunner()
    cases = {("--size-lr", "0"): "--size-lr", ("--size-lr", "12"): "--size-lr",
             ("--aspect-penalty", "-1"): "--aspect-penalty", ("--reacq-factor", "nan"): "--reacq-factor",
             ("--reacq-factor", "0.5"): "--reacq-factor", ("--reacq-center", "middle"): "--reacq-center",
             ("--reacq-frames", "0"): "--reacq-frames", ("--reacq-recover", "1.2"): "--reacq-recover"}
    for (opt, value), word in cases.items():
        r = runner.invoke(app, ["run", "missing.mp4", "--init", "1,2,3,4", opt, value])
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and word in lines[0], \
            (opt, value, r.output)
    with pytest.raises(ConfigError, match="TEST.SIZE_LR"):
        config_from_dict({"TEST": {"SIZE_LR": 20}})
    with pytest.raises(ConfigError, match="REACQ_RECOVER"):
        config_from_dict({"TEST": {"REACQ_THRESHOLD": 0.6, "REACQ_RECOVER": 0.5}})
    with pytest.raises(ConfigError, match="did you mean 'TEST.SIZE_LR'"):
        config_from_dict({"TEST": {"SIZE_LRR": 0.5}})


def test_bad_scale_search_values_are_one_line_errors():
    runner = CliRunner()
    for opt, value in (("--scale-search", "x"), ("--scale-search", "9"), ("--scale-search", "0.8,"),
                       ("--scale-penalty", "0"), ("--scale-penalty", "1.5")):
        r = runner.invoke(app, ["run", "missing.mp4", "--init", "1,2,3,4", opt, value])
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and opt in lines[0], \
            (opt, value, r.output)
    with pytest.raises(ConfigError, match="TEST.SCALE_SEARCH"):
        config_from_dict({"TEST": {"SCALE_SEARCH": [0.1]}})


def test_describe_says_what_runs():
    assert TrackerExt().describe() == "official procedure"
    assert TrackerExt(scale_search=[0.8], scale_penalty=0.97).describe() == \
        "official + scale search 0.8 (penalty 0.97)"
    assert TrackerExt(size_lr=1.5, aspect_penalty=0.5, reacq_factor=6.0).describe() == \
        "official + size smoothing 1.5, aspect penalty 0.5; re-acquisition x6 (motion)"
    assert TrackerExt(scale_search=[]).describe() == "official procedure"   # an empty list is off


@pytest.mark.parametrize("given, message", [
    ({"size_lr": 20}, "TrackerExt size_lr: 20 is out of range; allowed: a finite number in (0, 10] or None"),
    ({"scale_search": [0.8, "1.2"]}, "TrackerExt scale_search: [0.8, '1.2'] holds text, not numbers; allowed: a list "
                                     "of at most 8 finite numbers in [0.25, 4] or None"),
    ({"reacq_frames": 2.5}, "TrackerExt reacq_frames: 2.5 is not an integer; allowed: an integer >= 1"),
    ({"reacq_threshold": 0.6}, "TrackerExt reacq_recover 0.5 is below reacq_threshold 0.6; the recover score must be "
                               ">= the threshold (hysteresis)"),
])
def test_a_trackerext_built_directly_is_checked_as_the_api_dict_is(given, message):
    """TrackerExt(size_lr=20) built in Python went unchecked into the tracker, where the same value in load_tracker's
    `ext` dict is refused; it is now the same one-line InputError (a ValueError), naming the field as typed."""
    with pytest.raises(ValueError) as info:
        TrackerExt(**given)
    assert type(info.value) is InputError and str(info.value) == message


def test_a_trackerext_built_directly_holds_the_checked_values():
    import numpy as np

    ext = TrackerExt(size_lr=np.float32(0.5), reacq_frames=np.int64(3), scale_search=np.array([0.8, 1.25]))
    assert (ext.size_lr, ext.reacq_frames, ext.scale_search) == (0.5, 3, (0.8, 1.25))
    assert type(ext.size_lr) is float and type(ext.reacq_frames) is int
    assert ext == TrackerExt.from_keys({"SIZE_LR": 0.5, "REACQ_FRAMES": 3, "SCALE_SEARCH": [0.8, 1.25]})
