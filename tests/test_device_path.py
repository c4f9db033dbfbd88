"""The device tracker's frame path on a device whose values the host cannot read ('meta'): every tensor stays on
the tracker's device and nothing in pre-processing reads a value back (a host sync on CUDA); the steady-state
functions hold no blocking host<->device copies; a torch backend on an indexed device names its index."""

from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np
import pytest
import torch

from droptrack.config import load_config
from droptrack.engine.tensorrt_backend import TensorRTBackend
from droptrack.engine.torch_backend import TorchBackend
from droptrack.model.ostrack import build_model
from droptrack.runtime import device_ops
from droptrack.runtime.backends import tracker_ext
from droptrack.runtime.device_tracker import DeviceTracker, PinnedUploader

pytestmark = pytest.mark.usefixtures("one_thread")
META = torch.device("meta")


@pytest.fixture(scope="module")
def backend() -> TorchBackend:
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    return TorchBackend(build_model(cfg).eval(), cfg, "cpu")


def frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)


@pytest.mark.parametrize("ext", [{}, {"SCALE_SEARCH": [0.9, 1.1], "SIZE_LR": 0.5}])
def test_preprocess_runs_on_the_trackers_device_without_reading_values(backend, ext):
    """The frame upload and the extensions' crop rows went to the CPU whatever the device (only CUDA moved them)."""
    tracker = DeviceTracker(backend, device="meta", ext=tracker_ext(backend, ext))
    tracker.initialize_many(frame(), [[40.0, 30.0, 30.0, 40.0], [90.0, 50.0, 20.0, 24.0]])
    assert tracker.templates.device == META and tracker.states_t.device == META
    search, factors = tracker.preprocess(frame())
    crops = 2 * (1 + len(ext.get("SCALE_SEARCH", [])))
    assert search.device == META and tuple(search.shape) == (crops, 3, 128, 128) and search.dtype == torch.float32
    assert factors.device == META and factors.dtype == torch.float64
    if ext:   # TEMPLATE_REFRESH's crop, from the frame being tracked
        tracker.refresh_template(1, [88.0, 52.0, 22.0, 25.0])
        assert tracker.templates.device == META


def test_pre_and_model_run_on_the_backends_device_without_reading_values():
    """DeviceTracker(backend) takes the model's device; the templates (repeated for the scale search's crops) and
    the search crops meet in the model there, with no value read on the way (a sync per frame on CUDA)."""
    cfg = load_config("tiny_ce_test")
    meta_backend = TorchBackend(build_model(cfg).eval(), cfg, "meta")
    tracker = DeviceTracker(meta_backend, ext=tracker_ext(meta_backend, {"SCALE_SEARCH": [0.8]}))
    assert tracker.device == META
    tracker.initialize_many(frame(), [[40.0, 30.0, 30.0, 40.0]])
    out = tracker.infer(tracker.preprocess(frame())[0])
    assert {k: (v.device, tuple(v.shape)) for k, v in out.items()} == {
        "score_map": (META, (2, 1, 8, 8)), "size_map": (META, (2, 2, 8, 8)), "offset_map": (META, (2, 2, 8, 8))}


def test_device_post_ops_read_no_values():
    """Window, decode, map-back and clip: no value-dependent host control flow (meta tensors have no values)."""
    n, f = 3, 8
    score = torch.empty(n, 1, f, f, device=META)
    boxes, peaks = device_ops.decode(device_ops.hann2d_t(f, META) * score, torch.empty(n, 2, f, f, device=META),
                                     torch.empty(n, 2, f, f, device=META))
    states = torch.empty(n, 4, dtype=torch.float64, device=META)
    out = device_ops.map_back_clip(boxes, states, torch.empty(n, dtype=torch.float64, device=META), 128, (120, 160))
    assert out.device == META and tuple(out.shape) == (n, 4) and out.dtype == torch.float64
    assert peaks.device == META and tuple(peaks.shape) == (n,)


STEADY = [DeviceTracker.preprocess, DeviceTracker._preprocess, DeviceTracker._host_crops, DeviceTracker._put,
          DeviceTracker.refresh_template, DeviceTracker._send, DeviceTracker.upload,
          PinnedUploader.__call__, device_ops.crop_resize, device_ops.crop_windows, device_ops._sample_points,
          device_ops._taps, device_ops._crop_fixed_point,
          device_ops.decode, device_ops.map_back_clip, device_ops.Normalizer.__call__, TensorRTBackend._run_one]
READ_BACK = {"item", "tolist", "cpu", "synchronize"}


@pytest.mark.parametrize("fn", STEADY, ids=lambda f: f.__qualname__)
def test_steady_state_functions_hold_no_blocking_copy(fn):
    """A value read back (.item/.tolist/.cpu) or `torch.tensor(..., device=...)` (a blocking upload from pageable
    memory) is a host sync per frame that `torch.cuda.set_sync_debug_mode('warn')` reports; the only wanted one is
    postprocess's final copy (the uploader's event wait is for its pinned buffer only)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        if name in READ_BACK and not (fn is PinnedUploader.__call__ and name == "synchronize"):
            bad.append(f".{name}()")
        if name == "tensor" and any(k.arg == "device" for k in node.keywords):
            bad.append("torch.tensor(..., device=...)")
    assert not bad, bad


def test_torch_backend_device_names_its_index(backend):
    """It said 'cuda' for cuda:1, so DeviceTracker(backend) worked on the current GPU, not the model's."""
    cfg = load_config("tiny_ce_test")
    indexed = TorchBackend(build_model(cfg).eval(), cfg, "cpu:0")
    assert torch.device(indexed.device) == torch.device("cpu", 0)
    assert DeviceTracker(indexed).device == torch.device("cpu", 0)
    assert backend.device == "cpu"


class LoggedStream:
    """Stand-in for torch.cuda.Stream: logs wait_stream calls into a shared list."""

    def __init__(self, name: str, log: list):
        self.name, self.log, self.cuda_stream = name, log, id(self)

    def wait_stream(self, other: "LoggedStream") -> None:
        self.log.append(f"{self.name} waits {other.name}")


def test_tensorrt_call_orders_its_stream_between_the_producer_and_the_reader():
    """The engine's stream waits for the crops queued on the caller's stream, the caller's stream waits for the
    engine before anything reads the outputs, and the caller gets copies (the next call rewrites the bindings)."""
    from types import SimpleNamespace

    log: list = []
    current = LoggedStream("current", log)
    trt = object.__new__(TensorRTBackend)
    trt._torch = SimpleNamespace(cuda=SimpleNamespace(current_stream=lambda dev: current))
    trt._dev, trt.context, trt.stream = torch.device("cpu"), object(), LoggedStream("engine", log)
    trt._outputs = {n: torch.full((1, c, 2, 2), float(c)) for n, c in (("score_map", 1), ("size_map", 2),
                                                                      ("offset_map", 3))}
    trt._enqueue = lambda ctx, bindings, stream: log.append(("enqueue", stream, sorted(bindings)))
    out = trt._run_one(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 8, 8))
    assert log == ["engine waits current",
                   ("enqueue", trt.stream.cuda_stream, ["offset_map", "score_map", "search", "size_map", "template"]),
                   "current waits engine"]
    for name, t in out.items():
        assert t.data_ptr() != trt._outputs[name].data_ptr() and torch.equal(t, trt._outputs[name])
