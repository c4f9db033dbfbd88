"""An epoch's batches: a DataLoader over the epoch's slice of this rank's samples, with its own generator and workers
that end quietly on a stop signal; and the CPU cores it may use."""

from __future__ import annotations

import os
import signal
import warnings
from typing import Iterator

import torch
from torch.utils.data import DataLoader

from droptrack.config import Config
from droptrack.train.data import EpochBatchSampler, PairDataset, collate_pairs, unwrap_worker_errors
from droptrack.train.dist import Dist


def _worker_quit(_signum: int, _frame) -> None:
    raise KeyboardInterrupt   # torch's worker loop ends quietly on it, as on a terminal's Ctrl-C


def _worker_init(_worker_id: int) -> None:
    """DataLoader workers end quietly on SIGTERM and SIGHUP: sent to the whole process group (systemd, a closed
    terminal, `kill -- -PGID`), they killed the workers by signal first and the run ended in a 'DataLoader worker is
    killed' traceback instead of the training process's own stop message. (Ignoring them instead hangs the exit:
    multiprocessing stops leftover workers with SIGTERM.) A terminal's Ctrl-C, which reaches the workers too, is
    ignored: the training process finishes and saves its iteration first (its batch may still be on its way), then
    stops the workers as it ends."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _worker_quit)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def epoch_batches(dataset: PairDataset, epoch: int, start: int, iterations: int, cfg: Config, dist: Dist,
                  seed: int) -> Iterator[dict]:
    """Batches start+1..iterations of `epoch`; its own generator, so making it never draws from the global RNG;
    worker errors keep their one-line message."""
    gen = torch.Generator().manual_seed(seed * 100003 + epoch)
    with warnings.catch_warnings():   # more workers than cores: said once by run_training, in dt's words
        warnings.filterwarnings("ignore", message="This DataLoader will create", category=UserWarning)
        loader = DataLoader(dataset, batch_sampler=EpochBatchSampler(epoch, iterations, cfg.TRAIN.BATCH_SIZE,
                                                                     dist.rank, dist.world, start=start),
                            num_workers=cfg.TRAIN.NUM_WORKER, persistent_workers=False, generator=gen,
                            worker_init_fn=_worker_init, collate_fn=collate_pairs)
        batches = iter(loader)   # torch says it again as its workers start
    return unwrap_worker_errors(batches)


def cpu_cores() -> int:
    """The CPUs this process may run on (its affinity mask: taskset, cgroup cpusets), as torch's DataLoader counts."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
