"""A bad `ext` dict given to the Python API (`load_tracker(ext=...)`, `Tracker(backend, ext=...)`) is an InputError
(a ValueError, as the API's other bad arguments; it was a ConfigError, which is not) that names the dict's own key
and Python's None, not `dt run`'s options: before, `ext={'SIZE_LR': 'x'}` said '--size-lr: x is not a number', an
option the caller never typed; text numbers ('0.5') were read as numbers, where boxes and thresholds refuse text.
`dt run`'s `build_tracker(..., options=True)` keeps the option names."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack import Tracker, load_tracker
from droptrack.errors import ConfigError, InputError
from droptrack.runtime.build import build_tracker

CASES = [
    ({"SIZE_LR": "x"}, "ext SIZE_LR: 'x' is not a number; allowed: a finite number in (0, 10] or None"),
    ({"SIZE_LR": 20}, "ext SIZE_LR: 20 is out of range; allowed: a finite number in (0, 10] or None"),
    ({"SCALE_SEARCH": 3}, "ext SCALE_SEARCH: 3 is not a list; allowed: a list of at most 8 finite numbers in [0.25, 4] "
                          "or None"),
    ({"SIZE_LR": "0.5"}, "ext SIZE_LR: '0.5' is not a number; allowed: a finite number in (0, 10] or None"),  # read
    ({"SCALE_SEARCH": ["0.8"]}, "ext SCALE_SEARCH: ['0.8'] holds text, not numbers; allowed: a list of at most 8 "
                                "finite numbers in [0.25, 4] or None"),
    ({"SCALE_SEARCH": [0.8] * 9}, "ext SCALE_SEARCH: [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8] has 9 items; "
                                  "allowed: a list of at most 8 finite numbers in [0.25, 4] or None"),   # 20000: 6 GiB
    ({"REACQ_THRESHOLD": 0.3}, "ext REACQ_THRESHOLD does nothing without REACQ_FACTOR (this model's "
                               "TEST.REACQ_FACTOR is off); add REACQ_FACTOR to ext or drop REACQ_THRESHOLD"),
    ({"REACQ_THRESHOLD": 0.3, "REACQ_FACTOR": None}, "ext REACQ_THRESHOLD does nothing without REACQ_FACTOR (ext "
                                                     "sets REACQ_FACTOR to None); add REACQ_FACTOR to ext or drop "
                                                     "REACQ_THRESHOLD"),
]


@pytest.fixture(scope="module")
def loaded(tiny_ckpt):
    return load_tracker(str(tiny_ckpt))


@pytest.mark.parametrize("ext, message", CASES)
def test_load_tracker_names_the_ext_key(tiny_ckpt, ext, message):
    with pytest.raises(ValueError) as info:
        load_tracker(str(tiny_ckpt), ext=ext)
    assert isinstance(info.value, InputError)
    assert str(info.value) == message
    assert "--" not in str(info.value)


@pytest.mark.parametrize("ext, message", CASES)
def test_tracker_over_a_loaded_model_names_the_ext_key(loaded, ext, message):
    with pytest.raises(ValueError) as info:
        Tracker(loaded.backend, ext=ext)
    assert isinstance(info.value, InputError)
    assert str(info.value) == message


def test_good_ext_keys_still_apply(loaded):
    assert Tracker(loaded.backend, ext={"SIZE_LR": 0.6}).ext.size_lr == 0.6
    ext = Tracker(loaded.backend, ext={"SIZE_LR": np.float32(0.5), "REACQ_FACTOR": np.float64(2.0),   # were refused
                                       "REACQ_FRAMES": np.int64(3), "SCALE_SEARCH": np.array([0.8, 1.25])}).ext
    assert (ext.size_lr, ext.reacq_factor, ext.reacq_frames, ext.scale_search) == (0.5, 2.0, 3, (0.8, 1.25))
    assert type(ext.reacq_frames) is int and type(ext.size_lr) is float


@pytest.mark.parametrize("ext, words", [
    ({"SIZE_LR": "x"}, "--size-lr: x is not a number"),
    ({"REACQ_THRESHOLD": 0.3}, "--reacq-threshold does nothing without --reacq-factor"),
])
def test_build_tracker_for_dt_run_keeps_the_option_names(tiny_ckpt, ext, words):
    with pytest.raises(ConfigError, match=words):
        build_tracker(str(tiny_ckpt), None, "cpu", ext=ext, options=True)


@pytest.mark.parametrize("ext, words", [
    ({"SIZE_LR": "x"}, "ext SIZE_LR: 'x' is not a number"),             # named dt run's --size-lr
    ({"REACQ_THRESHOLD": 0.3}, "ext REACQ_THRESHOLD does nothing without REACQ_FACTOR"),
])
def test_build_tracker_from_python_names_the_ext_keys(tiny_ckpt, ext, words):
    with pytest.raises(InputError, match=words):
        build_tracker(str(tiny_ckpt), None, "cpu", ext=ext)
