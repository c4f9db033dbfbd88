"""The Python API's remaining misuse paths a demanding caller hits: the extension settings given to Tracker as the
dict load_tracker takes, postprocess of something infer() did not return, infer on a closed tracker, and a model
shared by a closed tracker: each is one DropTrackError line (or works), never a KeyError / AttributeError from
inside."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import DropTrackError
from droptrack.runtime.run import build_tracker
from test_python_api_inputs import BOX, clip, run  # noqa: F401 - shared fixtures


def one_line(err: pytest.ExceptionInfo) -> str:
    assert isinstance(err.value, DropTrackError), type(err.value).__mro__
    text = str(err.value)
    assert text and "\n" not in text
    return text


def test_tracker_takes_the_extension_dict_load_tracker_takes(tiny_ckpt, clip):
    from droptrack import Tracker, load_tracker

    loaded = load_tracker(str(tiny_ckpt), ext={"SIZE_LR": 0.6})
    direct = Tracker(loaded.backend, ext={"SIZE_LR": 0.6})
    assert direct.ext == loaded.ext and direct.ext.size_lr == 0.6
    assert run(direct, clip) == run(load_tracker(str(tiny_ckpt), ext={"SIZE_LR": 0.6}), clip)
    with pytest.raises(DropTrackError) as err:
        Tracker(loaded.backend, ext=["SIZE_LR", 0.6])
    assert "dict of tracker-extension keys" in one_line(err)


@pytest.mark.parametrize("pre", ["host", "device"])
@pytest.mark.parametrize("out", [{}, {"score_map": np.zeros((1, 1, 8, 8), np.float32)}, None, [1, 2, 3]])
def test_postprocess_of_something_infer_did_not_return_is_one_line(tiny_ckpt, clip, pre, out):
    t = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
    t.initialize(clip[0], BOX)
    before = t.snapshot()
    _, factors = t.preprocess(clip[1])
    with pytest.raises(DropTrackError) as err:
        t.postprocess(out, factors, clip[1].shape[:2])
    assert "the dict infer() returned" in one_line(err)
    assert t.snapshot() == before


@pytest.mark.parametrize("pre", ["host", "device"])
def test_infer_on_a_closed_tracker_is_one_line(tiny_ckpt, clip, pre):
    t = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
    t.initialize(clip[0], BOX)
    search, _ = t.preprocess(clip[1])
    t.close()
    with pytest.raises(DropTrackError) as err:
        t.infer(search)
    assert "closed" in one_line(err)


@pytest.mark.parametrize("form", ["onnx", "torch"])   # torch: its close freed nothing, the other kept tracking
def test_a_tracker_on_a_model_another_tracker_closed_says_so(onnx_model, tiny_ckpt, clip, form):
    pytest.importorskip("onnxruntime")
    from droptrack import Tracker, load_tracker

    with load_tracker(str(onnx_model if form == "onnx" else tiny_ckpt), threads=1) as first:
        first.initialize(clip[0], BOX)
        first.track(clip[1])
        second = Tracker(first.backend)                             # the README's way to share loaded weights
        second.initialize(clip[0], BOX)
    for call in (lambda: second.track(clip[1]), lambda: second.initialize(clip[0], BOX), lambda: second.snapshot(),
                 lambda: second.preprocess(clip[1]), lambda: second.remove_target(0), lambda: Tracker(first.backend)):
        with pytest.raises(DropTrackError) as err:   # initialize, preprocess, snapshot and a new Tracker succeeded
            call()
        assert "closed by another tracker sharing it" in one_line(err)


def test_every_public_method_a_caller_reaches_has_type_hints_and_a_docstring():
    import inspect
    import typing

    from droptrack import DeviceTracker, Tracker, TrackResult
    from droptrack.engine.base import Backend, to_numpy
    from droptrack.engine.onnxruntime_backend import OrtBackend
    from droptrack.engine.tensorrt_backend import TensorRTBackend
    from droptrack.engine.torch_backend import TorchBackend

    found = [to_numpy]
    for cls in (Tracker, DeviceTracker, TrackResult, Backend, OrtBackend, TensorRTBackend, TorchBackend):
        assert inspect.getdoc(cls), cls
        found += [m for n, m in vars(cls).items() if not n.startswith("_") and (inspect.isfunction(m)
                                                                               or isinstance(m, property))]
    for obj in found:
        func = obj.fget if isinstance(obj, property) else obj
        assert func.__doc__ and func.__doc__.strip(), func.__qualname__
        hints = typing.get_type_hints(func)
        params = [p for p in inspect.signature(func).parameters if p not in ("self", "args", "kwargs")]
        assert set(params) | {"return"} <= set(hints), (func.__qualname__, set(params) - set(hints))


@pytest.mark.parametrize("pre", ["host", "device"])
@pytest.mark.parametrize("factors, image_hw, words", [
    ([], (120, 160), "the 1 crops and resize factors of the last preprocess()"),   # host: silently updated none
    (None, (120, 160), "the 1 crops and resize factors of the last preprocess()"),
    ([0.0], (120, 160), "resize factors [0.0] are not numbers > 0"),    # a ZeroDivisionError
    ([float("nan")], (120, 160), "resize factors [nan] are not numbers > 0"),
    ("keep", None, "image_hw None is not the (height, width) (120, 160) of the frame preprocess() read"),
    ("keep", (120,), "is not the (height, width) (120, 160)"),
    ("keep", (0, 160), "is not the (height, width) (120, 160)"),
    ("keep", (160, 120), "is not the (height, width) (120, 160)"),      # swapped: clipped to the wrong frame
])
def test_postprocess_with_other_factors_or_frame_size_than_preprocess_gave_is_one_line(tiny_ckpt, clip, pre, factors,
                                                                                       image_hw, words):
    t = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
    t.initialize(clip[0], BOX)
    before = t.snapshot()
    search, got = t.preprocess(clip[1])
    with pytest.raises(DropTrackError) as err:
        t.postprocess(t.infer(search), got if factors == "keep" else factors, image_hw)
    assert words in one_line(err)
    assert t.snapshot() == before


@pytest.mark.parametrize("pre", ["host", "device"])
def test_refresh_template_without_a_frame_being_tracked_or_with_a_bad_index_is_one_line(tiny_ckpt, clip, pre):
    official = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre)
    official.initialize(clip[0], BOX)
    official.track(clip[1])                                         # the official path keeps no frame
    with pytest.raises(DropTrackError) as err:
        official.refresh_template(0, BOX)
    assert "frame being tracked" in one_line(err)
    refresh = build_tracker(str(tiny_ckpt), None, "cpu", pre=pre, ext={"TEMPLATE_REFRESH": 0.99})
    refresh.initialize(clip[0], BOX)
    refresh.track(clip[1])
    for index, box in ((1, BOX), ("0", BOX), (0, (1, 2, 3))):
        with pytest.raises(DropTrackError) as err:
            refresh.refresh_template(index, box)
        one_line(err)
    refresh.refresh_template(-1, BOX)                               # what the extension does, by the caller
