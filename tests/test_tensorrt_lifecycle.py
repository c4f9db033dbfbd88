"""TensorRT backend life cycle without a GPU: what TensorRT's failures say (deserialisation, enqueue) and the order
in which close() waits and releases (stand-ins record what was asked of them)."""

from __future__ import annotations

import pytest
import torch

from droptrack.engine import trt_compat
from droptrack.engine.tensorrt_backend import TensorRTBackend
from droptrack.errors import BackendError


def test_plan_tensorrt_does_not_deserialize_names_gpu_memory_too():
    """deserialize_cuda_engine returns None also when the engine's weights do not fit in the free GPU memory; the
    backend checks TensorRT version and GPU against the sidecar first, so the message named only causes already
    ruled out there."""
    from fake_tensorrt import FakeTRT

    trt = FakeTRT().module()
    with pytest.raises(BackendError, match="could not deserialize the engine") as exc:
        trt_compat.deserialize(trt, b"not a plan", trt_compat.logger(trt))
    text = str(exc.value)
    assert "\n" not in text and "free GPU memory" in text and "dt export MODEL.onnx --engine" in text


def test_enqueue_that_tensorrt_refuses_is_a_one_line_error_naming_the_fix():
    """execute_async_v3 returning False said only 'failed; see the log': no next step."""
    from types import SimpleNamespace

    refusing = SimpleNamespace(set_tensor_address=lambda name, memory: True, execute_async_v3=lambda stream: False)
    with pytest.raises(BackendError, match="could not enqueue the engine") as exc:
        trt_compat.enqueue(refusing, {"template": 512}, 0)
    assert "\n" not in str(exc.value) and "dt export MODEL.onnx --engine" in str(exc.value)


def test_close_waits_for_the_queued_inference_before_dropping_the_context():
    """With torch inputs infer() returns before the engine ran on its stream; close() dropped the context (and left
    the bound output buffers to be freed with the backend) without waiting. TensorRT's enqueueV3: memory bound to a
    tensor must not be released before the stream is synchronised."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    log: list = []
    be = object.__new__(TensorRTBackend)

    class Stream:
        def synchronize(self):
            log.append(("sync", be.context is not None, bool(be._outputs)))

    be._torch = SimpleNamespace(cuda=SimpleNamespace(device=lambda dev: nullcontext()))
    be._dev, be.stream, be.context, be.engine, be._runtime = torch.device("cpu"), Stream(), object(), object(), object()
    be._outputs = {"score_map": torch.zeros(1, 1, 2, 2)}
    be.close()
    assert log == [("sync", True, True)]                      # waited while the context and its buffers were alive
    assert be.released and be.context is None and be._runtime is None and be._outputs == {}
    be.close()
    assert len(log) == 1                                       # closed once: nothing left to wait for
