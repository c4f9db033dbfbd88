"""One process of the 2-rank gloo test of the skipped-frames summary (a module of its own: the spawned processes
import only this, torch and badframes)."""

from __future__ import annotations

import json
from pathlib import Path

import torch.distributed as dist

from droptrack.train.badframes import BadFrames

MET = {0: (["frame A cannot be decoded", "frame B cannot be decoded"], 3),   # rank: frames met, samples drawn again
       1: (["frame B cannot be decoded", "frame C cannot be decoded"], 2)}


def run_rank(rank: int, world: int, store: str, out: str) -> None:
    """Meet this rank's frames of MET in a gloo group, then write the end-of-run lines it says into out/RANK.json."""
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        bad = BadFrames()
        problems, samples = MET[rank]
        bad.add(problems)
        bad.add(problems[-1:] * (samples - len(problems)))   # the last frame met again: more samples, no new frame
        told: list[str] = []
        bad.tell_summary(told.append)
        Path(out, f"{rank}.json").write_text(json.dumps(told))
    finally:
        dist.destroy_process_group()
