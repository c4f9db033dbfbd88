"""`dt train --device`: the torch.device one training process runs on, refused in one line when it is not there."""

from __future__ import annotations

import os

import torch

from droptrack.engine.base import missing_gpu
from droptrack.errors import TrainingError


def torchrun_local_rank() -> int | None:
    """This process's LOCAL_RANK under torchrun (more than one process), or None when it trains alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    return int(os.environ.get("LOCAL_RANK", "0"))


def train_device(name: str, local_rank: int | None = None) -> torch.device:
    """The device for --device `name` (auto, cpu, cuda, cuda:N): a rank under torchrun trains on GPU `local_rank`
    whatever N says (one GPU each), a lone process on GPU N (plain cuda: GPU 0), so cuda:1 is not cuda:0."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if not name.startswith("cuda"):
        return torch.device(name)
    if not torch.cuda.is_available():
        raise TrainingError("--device cuda requested but CUDA is not available; use --device cpu")
    if local_rank is not None:
        return torch.device("cuda", local_rank)
    problem = missing_gpu(name)
    if problem:
        raise TrainingError(problem)
    return torch.device("cuda", torch.device(name).index or 0)
