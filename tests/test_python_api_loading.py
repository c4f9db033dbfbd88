"""load_tracker / build_tracker with the paths and devices real callers pass: a model or one line naming the
problem and the fix (a DropTrackError), never ONNX Runtime's or torch's own message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from droptrack.errors import BackendError, DropTrackError, InputError
from droptrack.runtime.run import build_tracker
from droptrack.runtime.tracker import load_tracker


@pytest.mark.parametrize("name, content, words", [
    ("missing.pt", None, ["'{p}' not found", "pass an existing file"]),
    ("missing.onnx", None, ["'{p}' not found"]),
    ("folder", "dir", ["'{p}' is a folder", "pass the checkpoint file inside it"]),
    ("notes.txt", b"hello", ["'{p}' is corrupt or not a PyTorch checkpoint", "pass the real model file"]),
    ("fake.onnx", b"hello", ["'{p}' is corrupt or not an ONNX graph", "pass the real model file"]),
    ("empty.pt", b"", ["'{p}' is empty (0 bytes)", "fetch or export it again"]),
    ("cut.onnx", b"", ["'{p}' is empty (0 bytes)", "fetch or export it again"]),
])
def test_model_files_that_are_not_models_are_one_line(tmp_path, name, content, words):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DropTrackError) as err:
        load_tracker(path)
    msg = str(err.value)
    assert all(w.format(p=path) in msg for w in words) and "\n" not in msg, msg
    assert "Protobuf" not in msg and "ONNXRuntimeError" not in msg


def test_a_checkpoint_renamed_onnx_names_what_it_holds(tiny_ckpt, tmp_path):
    renamed = tmp_path / "model.onnx"
    renamed.write_bytes(tiny_ckpt.read_bytes())
    with pytest.raises(InputError, match=r"named \.onnx but holds a PyTorch checkpoint.*rename it to \.pt"):
        load_tracker(renamed)


def test_a_config_with_an_onnx_model_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"config applies to checkpoints.*drop config"):
        load_tracker(tmp_path / "model.onnx", config="tiny_ce_test")


# id 'gpu-text': a test whose keywords hold 'gpu' is skipped without CUDA (conftest)
@pytest.mark.parametrize("device", ["mps", pytest.param("gpu", id="gpu-text"), "xpu", "cuda0", "", None, 0])
def test_devices_other_than_cpu_and_cuda_are_one_clear_error(tiny_ckpt, device):
    for load in (lambda: load_tracker(tiny_ckpt, device=device), lambda: build_tracker(str(tiny_ckpt), None, device)):
        with pytest.raises(InputError) as err:
            load()
        assert f"device {device!r} is not supported; pass device='cpu' or device='cuda'" in str(err.value)


@pytest.mark.parametrize("device", ["cpu", "CPU", "cpu:0", " cpu "])
def test_cpu_spellings_load_the_same_tracker(tiny_ckpt, device):
    f = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    boxes = []
    for d in ("cpu", device):
        t = load_tracker(tiny_ckpt, device=d)
        t.initialize(f, (20, 20, 16, 16))
        boxes.append(t.track(f))
    assert boxes[0] == boxes[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:1", "CUDA"])
def test_cuda_without_cuda_says_to_use_the_cpu(tiny_ckpt, device):
    with pytest.raises(BackendError, match=r"CUDA is not available here; use the CPU .*device='cpu'"):
        load_tracker(tiny_ckpt, device=device)


@pytest.mark.parametrize("threads", [-1, "2", 1.5, None])
def test_threads_must_be_a_count(tiny_ckpt, threads):
    with pytest.raises(InputError, match=r"threads=.* must be an int >= 0"):
        load_tracker(tiny_ckpt, threads=threads)
