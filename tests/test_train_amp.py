"""`dt train --amp` on a device that cannot do it: one line naming the mode, the device and the fix, exit 2, before
any work (a GPU without bfloat16 failed at the first iteration with torch's RuntimeError traceback, after the
output folder and its config.yaml were made)."""

from __future__ import annotations

import contextlib

import pytest
import torch

from droptrack.errors import TrainingError
from droptrack.train.amp import _autocast_refusal, check_amp
from helpers import cli, one_line_error

TINY = ["--epochs", "1", "--batch-size", "4", "--samples-per-epoch", "8", "--workers", "0"]


@pytest.fixture
def old_gpu(monkeypatch):
    """The CUDA facts torch reads on a GPU without bfloat16 (a Kepler card: not even emulated); torch's own
    autocast check then runs as it does there."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())   # one GPU: already current
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (3, 7))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla K80")


def test_bf16_on_a_gpu_without_it_is_one_line_naming_the_fix_before_any_work(tmp_path, synth, old_gpu):
    out = tmp_path / "run"
    line = one_line_error(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY, "--device", "cuda",
                              "--amp", "bf16"))
    assert line == ("error: --amp bf16: cuda:0 (Tesla K80) cannot train in bfloat16 (Current CUDA Device does not "
                    "support bfloat16); pass --amp fp16 (or --amp off)"), line   # the GPU it would train on
    assert list(tmp_path.iterdir()) == []   # no output folder


def test_a_dtype_torch_will_not_autocast_to_is_named_in_torchs_words():
    # torch warns and trains in FP32 instead (autocast disabled); dt refuses it
    assert _autocast_refusal(torch.device("cpu"), torch.float32).startswith(
        "In CPU autocast, but the target dtype is not supported")
    assert _autocast_refusal(torch.device("cpu"), torch.bfloat16) is None
    assert check_amp("bf16", torch.device("cpu")) is None and check_amp("fp16", torch.device("cpu")) is None
    assert check_amp("off", torch.device("cpu")) is None


def test_emulated_bf16_is_a_note_not_a_refusal(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())   # one GPU: already current
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100")
    assert check_amp("bf16", torch.device("cuda")) == (
        "warning: --amp bf16: cuda (Tesla V100) has no native bfloat16 (compute capability below 8.0), so it is "
        "emulated and slower than --amp fp16")
    assert check_amp("fp16", torch.device("cuda")) is None


@pytest.fixture
def three_gpus(monkeypatch) -> list[int]:
    """A machine as torch.cuda tells it: cuda:0 a K80 (compute capability 3.7: no bfloat16, not even emulated),
    cuda:1 a V100 (7.0: emulated only), cuda:2 an A100 (8.0: native). torch's bfloat16 checks (is_bf16_supported,
    autocast's) answer for the current GPU, the one torch.cuda.device or set_device selects. Returns the current
    index, in a list the test may change."""
    gpus = {0: ("Tesla K80", (3, 7)), 1: ("Tesla V100", (7, 0)), 2: ("NVIDIA A100", (8, 0))}
    current = [0]

    def index(device=None) -> int:
        if device is None:
            return current[0]
        return device if isinstance(device, int) else torch.device(device).index

    class Selected:   # torch.cuda.device: selects a GPU for a block
        def __init__(self, device) -> None:
            self.idx = index(device)

        def __enter__(self) -> None:
            self.prev, current[0] = current[0], self.idx

        def __exit__(self, *exc) -> bool:
            current[0] = self.prev
            return False

    def bf16(including_emulation: bool = True) -> bool:
        cap = gpus[current[0]][1]
        return cap >= (8, 0) or (including_emulation and cap >= (5, 0))

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: current[0])
    monkeypatch.setattr(torch.cuda, "device", Selected)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", bf16)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: gpus[index(device)][1])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: gpus[index(device)][0])
    return current


@pytest.mark.parametrize("selected", [0, 1, 2])
def test_bf16_is_checked_on_the_gpu_given_not_the_current_one(three_gpus, selected):
    """--device cuda:N in one process: the check ran before torch.cuda.set_device, so it asked about GPU 0."""
    three_gpus[0] = selected
    with pytest.raises(TrainingError, match=r"^--amp bf16: cuda:0 \(Tesla K80\) cannot train in bfloat16 "):
        check_amp("bf16", torch.device("cuda", 0))
    assert check_amp("bf16", torch.device("cuda", 1)) == (
        "warning: --amp bf16: cuda:1 (Tesla V100) has no native bfloat16 (compute capability below 8.0), so it is "
        "emulated and slower than --amp fp16")
    assert check_amp("bf16", torch.device("cuda", 2)) is None
    assert check_amp("fp16", torch.device("cuda", 0)) is None
    assert three_gpus == [selected]   # the current GPU is left as it was
