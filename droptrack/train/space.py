"""Disk space for `dt train`'s checkpoints: checked before the first iteration, and a full disk while one is written
is a one-line error naming the checkpoint to resume from (torch.save reports it as an obscure zip-writer error)."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Callable

import torch

from droptrack.errors import TrainingError

MB = 1 << 20


def checkpoint_bytes(model: torch.nn.Module) -> int:
    """About the size of a resumable checkpoint: the weights and buffers, plus AdamW's two moments per parameter."""
    state = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    params = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return state + 2 * params


def free_bytes(folder: Path) -> int:
    """Free bytes for this user on the file system of `folder`."""
    return shutil.disk_usage(folder).free


def existing_folder(path: Path) -> Path:
    """`path`, or the nearest folder above it that exists (where a missing output folder would be made)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_space(output: Path, size: int, keep: int, say: Callable[[str], None], epoch: int = 1,
                last: int = 1) -> None:
    """Refuse a run whose first epoch's checkpoints (last.pt and checkpoint_epNNNN.pt of `epoch`, where it starts or
    resumes) cannot fit in `output`, and a fresh run of more epochs (`last`: its last) where the second epoch's
    cannot (last.pt, the one being written and an epoch file: it stopped after an epoch of work); warn when the
    steady state (`keep` epoch checkpoints, last.pt and the file being written) may not fit. Checked before the
    output folder is made (on the folder above it, then), so a refused run leaves nothing behind."""
    free = free_bytes(existing_folder(output))
    if free < 2 * size:
        which = "first" if epoch == 1 else "next"
        raise TrainingError(f"--output '{output}' has {free / MB:.1f} MB free, and the {which} epoch writes 2 "
                            f"checkpoints of about {size / MB:.1f} MB each (last.pt, "
                            f"checkpoint_ep{epoch:04d}.pt); free space there or pass another --output")
    if epoch == 1 and last > 1 and free < 3 * size:
        raise TrainingError(f"--output '{output}' has {free / MB:.1f} MB free, and from the second epoch on 3 "
                            f"checkpoints of about {size / MB:.1f} MB each are on disk at once (last.pt, the one being "
                            "written, the last epoch's, even with --keep-last 1); free space there, pass another "
                            "--output, or train one epoch (--epochs 1)")
    if free < (keep + 3) * size:
        say(f"warning: --output '{output}' has {free / MB:.1f} MB free; {keep} epoch checkpoints "
            f"(--keep-last), last.pt and the one being written need about {(keep + 3) * size / MB:.1f} MB")


def check_final_space(output: Path, size: int) -> None:
    """A resumed run with no epoch left writes only final.pt (the weights, smaller than a checkpoint of `size`):
    refused where not even that fits (it asked for room for two checkpoints of an epoch that will not run)."""
    free = free_bytes(existing_folder(output))
    if free < size:
        raise TrainingError(f"--output '{output}' has {free / MB:.1f} MB free, and final.pt (every epoch is done) "
                            f"takes up to {size / MB:.1f} MB; free space there or pass another --output")


def write_failed(path: Path, exc: BaseException, size: int, resume_from: Path | None) -> TrainingError | None:
    """The one-line error for a checkpoint write that failed on a full disk (None: another failure, re-raise it)."""
    free = free_bytes(path.parent)
    full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or free < size
    if not full:
        return None
    then = (f"then run the same command with --resume to continue from {resume_from}" if resume_from is not None
            else "then run the same command again")
    return TrainingError(f"no space left to write checkpoint {path.name} in '{path.parent}' ({free / MB:.1f} MB free, "
                         f"a checkpoint takes about {size / MB:.1f} MB; nothing was overwritten): free space there, "
                         f"{then}")
