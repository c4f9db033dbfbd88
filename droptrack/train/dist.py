"""This process's place in the (optional) torchrun group, and the group's start (NCCL on GPU, gloo on CPU)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


@dataclass
class Dist:
    """This process's place in the (optional) torchrun group."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def bar(self, quiet: bool) -> bool:
        """Whether this rank draws the progress bar: rank 0, and with other ranks only on a terminal (to a file
        rich writes the bar once at the epoch's end, in two writes another rank's error line could land between)."""
        return self.main and not quiet and (self.world == 1 or sys.stdout.isatty())


def setup_dist(device: str) -> Dist:
    """Init the process group under torchrun (NCCL on GPU, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Dist(dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))
