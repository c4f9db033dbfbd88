"""TensorRT runtime path checks that run without a GPU: upload ordering, device choice, address binding, timing.

The real engine runs are the `gpu` tests in test_export.py and benchmarks/gpu_check.sh; here the CUDA pieces
(events, execution context, device queries) are replaced by small fakes that record what was asked of them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from droptrack.artifact import meta_from_config
from droptrack.config import load_config
from droptrack.engine import trt_compat
from droptrack.engine.base import Backend, DeviceTiming
from droptrack.engine.tensorrt_backend import TensorRTBackend, cuda_index, sidecar_path
from droptrack.errors import BackendError
from droptrack.runtime.device_tracker import PinnedUploader


class FakeEvent:
    """Records record/synchronize calls in a shared log; elapsed_time returns a fixed value."""

    count = 0

    def __init__(self, log: list, elapsed: float = 0.0):
        FakeEvent.count += 1
        self.id, self.log, self.elapsed = FakeEvent.count, log, elapsed

    def record(self, stream=None):
        self.log.append(("record", self.id))

    def synchronize(self):
        self.log.append(("sync", self.id))

    def elapsed_time(self, end: "FakeEvent") -> float:
        return end.elapsed


def test_pinned_upload_waits_for_the_copy_that_last_read_a_buffer():
    """With 2 buffers, frame 3 reuses frame 1's buffer only after frame 1's copy event completed."""
    log: list = []
    up = PinnedUploader(torch.device("cpu"), slots=2, event=lambda: FakeEvent(log), pin=False)
    frames = [np.full((4, 6, 3), v, np.uint8) for v in (10, 20, 30, 40)]
    for f in frames:
        out = up(f)
        assert np.array_equal(out.numpy(), f)
        log.append(("upload-done", int(f[0, 0, 0])))
    first, second, third = [e[1] for e in log if e[0] == "record"][:3]
    # buffer 0: recorded after frame 10; synchronised before frame 30 is written into it
    i_sync = log.index(("sync", first))
    assert log.index(("upload-done", 20)) < i_sync < log.index(("record", third))
    assert log.index(("sync", second)) > log.index(("upload-done", 30))
    assert ("sync", third) not in log  # frame 30's buffer not reused yet (frame 40 went to buffer 1)


def test_cuda_index_parsing():
    assert [cuda_index(d) for d in (None, "cuda", "cuda:0", "cuda:3", 2)] == [0, 0, 0, 3, 2]
    for bad in ("cpu", "cuda:x", "gpu:1"):
        with pytest.raises(BackendError, match="--device cuda"):
            cuda_index(bad)


class FakeContext:
    def __init__(self, refuse: str = ""):
        self.refuse, self.bound, self.ran = refuse, {}, False

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        if name == self.refuse:
            return False
        self.bound[name] = ptr
        return True

    def execute_async_v3(self, stream: int) -> bool:
        self.ran = True
        return True


def test_refused_tensor_address_is_a_one_line_error_and_nothing_runs():
    ok = FakeContext()
    trt_compat.enqueue(ok, {"template": 512, "search": 1024}, 0)
    assert ok.ran and ok.bound == {"template": 512, "search": 1024}
    bad = FakeContext(refuse="search")
    with pytest.raises(BackendError, match="refused the device address of tensor 'search'") as exc:
        trt_compat.enqueue(bad, {"template": 512, "search": 1024 + 64}, 0)
    assert not bad.ran and "\n" not in str(exc.value) and "64 bytes past 256-byte alignment" in str(exc.value)


class TimedBackend(Backend):
    """A backend that (like TensorRT with torch inputs) returns before its device work: event timing."""

    name = "fake"

    def __init__(self, meta, log):
        super().__init__(meta)
        self.log, self.device_timed = log, True

    def _infer(self, template, search):
        if self.device_timed:
            self._device_timing = DeviceTiming(FakeEvent(self.log), FakeEvent(self.log, elapsed=7.5))
        return {}


def test_device_timed_latency_is_resolved_from_events_when_read():
    log: list = []
    be = TimedBackend(meta_from_config(load_config("tiny_ce_test"), arch="droptrack"), log)
    z, x = np.zeros((1, 3, 64, 64), np.float32), np.zeros((1, 3, 128, 128), np.float32)
    be.infer(z, x)
    be.device_timed = False
    be.infer(z, x)
    assert not [e for e in log if e[0] == "sync"]           # nothing waited for during the calls
    lat = be.latencies_ms
    assert lat[0] == 7.5 and 0 <= lat[1] < 1000 and len(lat) == 2
    assert [e for e in log if e[0] == "sync"]                # reading resolved (waited for) the end event
    be.latencies_ms.clear()
    assert be.latencies_ms == []


def test_engine_for_another_gpu_index_is_refused_naming_the_index(tmp_path, monkeypatch):
    """--device cuda:1: the compatibility check looks at GPU 1 and the refusal names index 1."""
    meta = meta_from_config(load_config("tiny_ce_test"), arch="droptrack", precision="fp16")
    engine = tmp_path / "model_fp16.engine"
    engine.write_bytes(b"PLAN")
    built = {"tensorrt": "10.3.0", "gpu": "Orin", "compute_capability": "8.7"}
    sidecar_path(engine).write_text(json.dumps({"meta": meta.to_dict(), "env": built,
                                                "rebuild_command": "dt export model_fp16.onnx --engine"}))
    asked = []
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: (
        asked.append(device) or {"tensorrt": "10.3.0", "gpu": "RTX 4090", "compute_capability": "8.9"}))
    with pytest.raises(BackendError, match=r"GPU index 1 \(cuda:1\).*Orin.*RTX 4090.*dt export") as exc:
        TensorRTBackend(engine, device="cuda:1")
    assert asked == [1] and "\n" not in str(exc.value)
    with pytest.raises(BackendError, match="cuda:5 does not exist here"):
        TensorRTBackend(engine, device="cuda:5")
