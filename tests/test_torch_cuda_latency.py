"""The torch backend's model-only latency on CUDA (what `dt bench` reports for the PyTorch row): the forward holds
no host sync, so the host time around `infer` was only the time to queue it; it is measured with CUDA events, as
the TensorRT backend's, so reading it waits for the forward. GPU only (skipped without CUDA)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.mark.gpu
def test_reading_the_latency_waits_for_the_forward(tiny_ckpt):
    from droptrack.engine.torch_backend import TorchBackend

    be = TorchBackend.from_checkpoint(tiny_ckpt, device="cuda")
    shapes = be.input_shapes(16)
    rng = np.random.default_rng(0)
    z, x = (rng.standard_normal(shapes[k]).astype(np.float32) for k in ("template", "search"))
    be.infer(z, x)
    torch.cuda.synchronize()
    be.latencies_ms.clear()
    be.infer(z, x)   # queued; nothing else runs on the stream after it
    ms = be.latencies_ms[-1]
    assert torch.cuda.current_stream().query()   # resolving it waited for the forward's end
    assert ms > 0.0


@pytest.mark.gpu
def test_host_tracker_sync_waits_for_a_torch_forward_on_cuda(tiny_ckpt, frames):
    """`track_timed` (dt bench's stages) syncs after the infer stage: on the host path with the torch backend on CUDA
    that sync did nothing, and the forward's time was counted as post-processing."""
    from droptrack.engine.torch_backend import TorchBackend
    from droptrack.runtime.tracker import Tracker

    tracker = Tracker(TorchBackend.from_checkpoint(tiny_ckpt, device="cuda"))
    tracker.initialize_many(frames[0], [[60.0, 40.0, 40.0, 50.0]] * 8)
    search, _ = tracker.preprocess(frames[1])
    tracker.infer(search)
    tracker.sync()
    assert torch.cuda.current_stream().query()
