"""`dt train --device cuda:N` in one process trains on GPU N (it trained on GPU 0 whatever N said); under torchrun
each rank keeps GPU LOCAL_RANK; an N past the GPUs is one line and exit code 2. No GPU here: torch is told it sees
two, and the run is stopped where it picks its GPU."""

from __future__ import annotations

import pytest

from droptrack.errors import TrainingError

torch = pytest.importorskip("torch")


class Picked(Exception):
    """Raised by the stand-in torch.cuda.set_device: the GPU the run chose, before any work on it."""


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)

    def set_device(dev) -> None:
        raise Picked(str(dev))

    monkeypatch.setattr(torch.cuda, "set_device", set_device)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from droptrack.data.synth import generate_synth

    return generate_synth(tmp_path_factory.mktemp("synth") / "train", sequences=1, frames=8, seed=0, size=(96, 72))


def picked(tmp_path, synth, device: str) -> str:
    from droptrack.train.trainer import TrainOptions, run_training

    opts = TrainOptions(config="tiny_ce_test", output=tmp_path / "out", data=[str(synth)], epochs=1, batch_size=2,
                        samples_per_epoch=2, workers=0, device=device, amp="off", quiet=True)
    with pytest.raises(Picked) as caught:
        run_training(opts)
    return str(caught.value)


def test_one_process_trains_on_the_gpu_it_was_given(two_gpus, tmp_path, synth):
    assert picked(tmp_path, synth, "cuda:1") == "cuda:1"
    assert picked(tmp_path, synth, "cuda") == "cuda:0"


def test_device_option_to_torch_device(two_gpus, monkeypatch):
    from droptrack.train.device import torchrun_local_rank, train_device

    assert train_device("cuda:1") == torch.device("cuda", 1)
    assert train_device("cuda") == torch.device("cuda", 0)
    assert train_device("auto") == torch.device("cuda", 0)
    assert train_device("cpu") == torch.device("cpu")
    assert torchrun_local_rank() is None
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert torchrun_local_rank() == 1   # a torchrun rank: GPU LOCAL_RANK, whatever N says
    assert train_device("cuda:0", 1) == train_device("cuda", 1) == torch.device("cuda", 1)


def test_a_gpu_past_the_last_is_one_line(two_gpus, tmp_path, synth):
    from droptrack.train.device import train_device

    with pytest.raises(TrainingError, match=r"^--device cuda:2 does not exist here \(2 CUDA device\(s\)\); pass "
                                            r"--device cuda:0$"):
        train_device("cuda:2")
    from tests.helpers import cli, one_line_error

    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", tmp_path / "out", "--data", synth, "--device",
                              "cuda:2", "--workers", "0"))
    assert line == "error: --device cuda:2 does not exist here (2 CUDA device(s)); pass --device cuda:0", line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.pt"))


def test_without_cuda_cpu_and_auto_still_work(monkeypatch):
    from droptrack.train.device import train_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert train_device("auto") == train_device("cpu") == torch.device("cpu")
    with pytest.raises(TrainingError, match="CUDA is not available; use --device cpu"):
        train_device("cuda:1")
