"""The Python API as an application embeds it: misuse (call order, target indexes, snapshots, argument types) is
one DropTrackError with a one-line message (still the builtin type older callers caught), trackers close and work
as context managers, and BGR frames can be declared instead of flipped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from droptrack.errors import DropTrackError
from droptrack.runtime.run import build_tracker
from test_python_api_inputs import BOX, clip, run, tracker  # noqa: F401 - shared fixtures


def one_line(err: pytest.ExceptionInfo) -> str:
    """The exception's message, checked to be one line of the project's own type."""
    assert isinstance(err.value, DropTrackError), type(err.value).__mro__
    text = str(err.value)
    assert text and "\n" not in text
    return text


@pytest.mark.parametrize("pre", ["host", "device"])
def test_track_before_initialize_is_a_droptrack_error(tiny_ckpt, clip, pre):
    fresh = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
    with pytest.raises(RuntimeError) as err:                           # still what older callers caught
        fresh.track(clip[0])
    assert "before track" in one_line(err)


@pytest.mark.parametrize("index, builtin", [(2, IndexError), (-3, IndexError), ("0", TypeError), (0.0, TypeError)])
def test_bad_target_indexes_are_droptrack_errors(tracker, clip, index, builtin):
    tracker.initialize_many(clip[0], [BOX, (10, 10, 24, 20)])
    with pytest.raises(builtin) as err:
        tracker.remove_target(index)
    assert "target index" in one_line(err)
    assert tracker.num_targets == 2


def test_tracking_after_removing_every_target_is_a_droptrack_error(tracker, clip):
    tracker.initialize(clip[0], BOX)
    tracker.remove_target(0)
    assert tracker.track_many(clip[1]) == []
    with pytest.raises(RuntimeError) as err:
        tracker.track(clip[1])
    assert "initialize(frame, box) again" in one_line(err)


@pytest.mark.parametrize("snap", [{"states": []}, {}, None, {"states": "x"}])
def test_a_foreign_snapshot_is_a_droptrack_error_and_changes_nothing(tracker, clip, snap):
    tracker.initialize(clip[0], BOX)
    before = tracker.snapshot()
    with pytest.raises(DropTrackError) as err:
        tracker.restore(snap)
    assert "snapshot" in one_line(err)
    assert tracker.snapshot() == before


@pytest.mark.parametrize("ext", [["SIZE_LR", 0.6], "SIZE_LR=0.6", 0.6])
def test_extension_overrides_that_are_not_a_dict_are_a_droptrack_error(tiny_ckpt, ext):
    with pytest.raises(DropTrackError) as err:
        build_tracker(str(tiny_ckpt), None, "cpu", pre="host", ext=ext)
    assert "must be a dict" in one_line(err)


@pytest.mark.parametrize("pre", ["host", "device"])
def test_a_tracker_is_a_context_manager_that_closes_its_backend(tiny_ckpt, clip, pre):
    closed = []
    with build_tracker(str(tiny_ckpt), None, "cpu", pre=pre) as t:
        t.backend.close = lambda: closed.append(True)                 # observe the release (torch's is a no-op)
        t.initialize(clip[0], BOX)
        box, _ = t.track(clip[1])
        assert len(box) == 4
    assert closed == [True] and t.num_targets == 0 and t.templates is None
    for call in (lambda: t.track(clip[2]), lambda: t.initialize(clip[0], BOX), lambda: t.track_timed(clip[2])):
        with pytest.raises(DropTrackError) as err:
            call()
        assert "closed" in one_line(err)


def test_bgr_frames_declared_with_channels_track_as_their_rgb_flip(tiny_ckpt, clip):
    from PIL import Image

    for pre in ("host", "device"):                                  # the DeviceTracker's own reference: its crops
        rgb = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)   # are torch ops, not bit-equal to OpenCV's
        expected = run(rgb, clip)
        bgr = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre, channels="BGR")
        as_read = [np.ascontiguousarray(f[:, :, ::-1]) for f in clip]               # what cv2 hands over
        assert run(bgr, as_read) == expected
        alpha = np.full(clip[0].shape[:2] + (1,), 255, np.uint8)
        assert run(bgr, [np.concatenate([f, alpha], -1) for f in as_read]) == expected   # BGRA
        assert run(bgr, [torch.from_numpy(f) for f in as_read]) == expected
        assert run(bgr, [Image.fromarray(f) for f in clip]) == expected               # PIL stays RGB
        gray = [f[:, :, 1].copy() for f in clip]
        assert run(bgr, gray) == run(rgb, gray)


def test_a_tracker_says_its_channel_order(tiny_ckpt):
    from droptrack import load_tracker

    assert load_tracker(str(tiny_ckpt)).channels == "rgb"
    tracker = load_tracker(str(tiny_ckpt), channels=" BGR")           # taken in any case: read back as 'bgr'
    assert tracker.channels == "bgr"
    assert build_tracker(str(tiny_ckpt), None, "cpu", pre="device", channels="bgr").channels == "bgr"
    with pytest.raises(AttributeError):                                # read-only: set once, by channels=
        tracker.channels = "rgb"
    assert tracker.channels == "bgr"


@pytest.mark.parametrize("channels", ["rbg", "", None, 3])
def test_an_unknown_channel_order_is_a_droptrack_error(tiny_ckpt, channels):
    from droptrack import load_tracker

    for make in (lambda: load_tracker(str(tiny_ckpt), channels=channels),
                 lambda: build_tracker(str(tiny_ckpt), None, "cpu", channels=channels)):
        with pytest.raises(DropTrackError) as err:
            make()
        assert "must be 'rgb' or 'bgr'" in one_line(err)


def test_public_names_have_type_hints_and_docstrings():
    import inspect
    import typing

    import droptrack
    from droptrack.runtime.tracker import Tracker

    names = [getattr(droptrack, n) for n in droptrack.__all__ if callable(getattr(droptrack, n))]
    methods = [m for n, m in vars(Tracker).items() if not n.startswith("_") and callable(m) or isinstance(m, property)]
    for obj in names + methods:
        func = obj.fget if isinstance(obj, property) else obj
        assert inspect.getdoc(func), func
        if inspect.isfunction(func):
            hints = typing.get_type_hints(func)
            params = [p for p in inspect.signature(func).parameters if p not in ("self", "args", "kwargs")]
            assert set(params) | {"return"} <= set(hints), (func.__qualname__, set(params) - set(hints))


@pytest.mark.parametrize("call", [
    lambda t, f: t.initialize(f, [np.zeros((10, 10)), 1, 2, 3]),                   # an array where a number belongs
    lambda t, f: t.initialize(f, {"box": np.zeros((6, 6))}),
    lambda t, f: t.initialize(f, list(range(1000))),
    lambda t, f: t.initialize_many(f, np.zeros((3, 3, 3))),
    lambda t, f: t.initialize_many(f, [[np.zeros((5, 5)), 1, 2, 3]]),
    lambda t, f: t.remove_target(np.zeros((4, 4))),
])
def test_errors_about_big_values_stay_one_short_line(tracker, clip, call):
    tracker.initialize(clip[0], BOX)
    with pytest.raises(DropTrackError) as err:
        call(tracker, clip[0])
    assert len(one_line(err)) < 300


@pytest.mark.parametrize("bad", [np.zeros((5, 5)), "x" * 500])
def test_bad_settings_are_one_short_line(tiny_ckpt, bad):
    from droptrack import load_tracker

    for kwargs in ({"device": bad}, {"threads": bad}, {"channels": bad}, {"ext": bad}):
        with pytest.raises(DropTrackError) as err:
            load_tracker(str(tiny_ckpt), **kwargs)
        assert len(one_line(err)) < 300, kwargs


@pytest.mark.parametrize("make", [lambda p: __import__("droptrack").Tracker(p),
                                  lambda p: __import__("droptrack").DeviceTracker(str(p)),
                                  lambda p: __import__("droptrack").Tracker(None)])
def test_a_tracker_built_on_a_path_instead_of_a_backend_points_to_load_tracker(tiny_ckpt, make):
    with pytest.raises(DropTrackError) as err:
        make(tiny_ckpt)
    assert "load_tracker(path)" in one_line(err)


def test_trackers_sharing_one_backend_keep_their_own_targets(tiny_ckpt, clip):
    from droptrack import Tracker

    alone = [run(build_tracker(str(tiny_ckpt), None, "cpu", pre="host"), clip, b) for b in (BOX, (10, 10, 24, 20))]
    first = build_tracker(str(tiny_ckpt), None, "cpu", pre="host")
    second = Tracker(first.backend)                                 # the README's way to share loaded weights
    first.initialize(clip[0], BOX)
    second.initialize(clip[0], (10, 10, 24, 20))
    got = [[[*b, s] for b, s in (t.track(f),)][0] for f in clip[1:] for t in (first, second)]
    assert got[0::2] == alone[0] and got[1::2] == alone[1]


@pytest.mark.parametrize("box", [(159.5, 119.5, 1, 1), (159.99, 10, 0.01, 5)])
def test_a_box_on_the_frames_discarded_last_column_is_refused_on_host_and_device_alike(tiny_ckpt, clip, box):
    for pre in ("host", "device"):                                  # dt run picks one or the other by machine
        t = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
        with pytest.raises(DropTrackError) as err:
            t.initialize(clip[0], box)                              # its template would be zero padding only
        assert "too small at the edge of the 160x120 image to crop" in one_line(err), pre


@pytest.mark.parametrize("kwargs", [{"artifact": 123}, {"artifact": b"model.onnx"}, {"artifact": ""},
                                    {"config": {"MODEL": {}}}, {"config": 3}])
def test_a_model_or_config_that_is_not_a_path_is_a_droptrack_error(kwargs):
    from droptrack import load_tracker

    with pytest.raises(DropTrackError) as err:
        load_tracker(**kwargs)
    assert "is not a file path" in one_line(err)


def test_a_torch_device_is_taken_where_a_device_name_is(tiny_ckpt, clip):
    from droptrack import load_tracker

    named = run(load_tracker(str(tiny_ckpt), device="cpu"), clip)
    assert run(load_tracker(str(tiny_ckpt), device=torch.device("cpu")), clip) == named
    assert run(build_tracker(str(tiny_ckpt), None, torch.device("cpu"), pre="device"), clip) == \
        run(build_tracker(str(tiny_ckpt), None, "cpu", pre="device"), clip)
