"""`--device cuda:N` past the GPUs this machine has: refused in one line before any work (dt run, serve, eval and bench
resolve --device first), and by the torch backend of the Python API, as the TensorRT backend already refused it;
torch failed on the first copy with a traceback. No GPU here: torch is told it sees one."""

from __future__ import annotations

import pytest

from droptrack.errors import BackendError, InputError

torch = pytest.importorskip("torch")


@pytest.fixture
def one_gpu(monkeypatch):
    from droptrack.runtime import build

    monkeypatch.setattr(build, "cuda_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_resolve_device_refuses_a_gpu_index_that_does_not_exist(one_gpu):
    from droptrack.runtime.build import resolve_device

    assert resolve_device("cuda:0", None) == "cuda:0" and resolve_device("CUDA", None) == "cuda"
    with pytest.raises(InputError, match=r"^--device cuda:1 does not exist here \(1 CUDA device\(s\)\); pass "
                                         r"--device cuda:0$"):
        resolve_device("cuda:1", None)


def test_torch_backend_refuses_it_before_moving_the_model(one_gpu):
    from droptrack.engine.torch_backend import TorchBackend

    with pytest.raises(BackendError, match="cuda:3 does not exist here"):
        TorchBackend.from_checkpoint(None, device="cuda:3")
