"""FP32 on CUDA means IEEE FP32: the torch backend runs its forward with TF32 off (torch turns cuDNN's TF32 on by
default, which moved 14 % of the default model's frames off the CPU's boxes on an H200) and restores the process's
settings afterwards. The flag handling is checked here on the CPU; the boxes on CUDA by the gpu test."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from droptrack.engine.torch_backend import fp32_math  # noqa: E402

KNOBS = (torch.backends.cuda.matmul, torch.backends.cudnn.conv)
needs_new_api = pytest.mark.skipif(not all(hasattr(k, "fp32_precision") for k in KNOBS),
                                   reason="this torch has only the legacy TF32 flags")


@pytest.fixture
def tf32_on():
    """The process asks for TF32 in both (as a user's torch.backends...fp32_precision = 'tf32' would); restored after."""
    saved = [k.fp32_precision for k in KNOBS]
    for k in KNOBS:
        k.fp32_precision = "tf32"
    yield
    for k, v in zip(KNOBS, saved):
        k.fp32_precision = v


@needs_new_api
def test_strict_block_runs_ieee_and_restores_the_users_setting(tf32_on):
    with fp32_math(True):
        assert [k.fp32_precision for k in KNOBS] == ["ieee", "ieee"]
    assert [k.fp32_precision for k in KNOBS] == ["tf32", "tf32"]


@needs_new_api
def test_settings_come_back_after_an_exception_in_the_forward(tf32_on):
    with pytest.raises(RuntimeError, match="boom"):
        with fp32_math(True):
            raise RuntimeError("boom")
    assert [k.fp32_precision for k in KNOBS] == ["tf32", "tf32"]


@needs_new_api
def test_allowed_tf32_leaves_the_process_settings_alone(tf32_on):
    with fp32_math(False):
        assert [k.fp32_precision for k in KNOBS] == ["tf32", "tf32"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_default_model_on_cuda_tracks_the_cpus_boxes():
    """The default model as DeviceTracker(TorchBackend) on CUDA and on the CPU, 2 targets, 40 frames: the same boxes
    (with torch's default cuDNN TF32 the H200 left them on 14 % of 100 frames; with IEEE FP32 on none, min IoU 1.0)."""
    from droptrack.data.synth import synth_sequence
    from droptrack.engine.torch_backend import TorchBackend
    from droptrack.geometry import box_iou
    from droptrack.runtime.device_tracker import DeviceTracker

    seq = synth_sequence(0, 40, seed=2, split="val")
    h, w = seq.frames[0].shape[:2]
    inits = [list(map(float, seq.boxes[0])), [w * 0.1, h * 0.1, w * 0.2, h * 0.25]]
    cpu = DeviceTracker(TorchBackend.from_checkpoint(None, device="cpu"), device="cpu")
    gpu = DeviceTracker(TorchBackend.from_checkpoint(None, device="cuda"), device="cuda")
    cpu.initialize_many(seq.frames[0], inits)
    gpu.initialize_many(seq.frames[0], inits)
    ious = []
    for f in seq.frames[1:]:
        for a, b in zip(cpu.track_many(f), gpu.track_many(f)):
            ious.append(float(box_iou(np.asarray([a.box]), np.asarray([b.box]))[0]))
    assert min(ious) > 0.999
