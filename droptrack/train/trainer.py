"""`dt train`: a small training loop (official recipe) with DDP, atomic checkpoints, bit-exact resume."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from droptrack.config import Config, load_config
from droptrack.errors import DropTrackError, TrainingError
from droptrack.model.checkpoint import read_file
from droptrack.train.optim import reference_batch


@dataclass
class TrainOptions:
    """Everything `dt train` accepts (config values can be overridden here)."""

    config: str
    output: Path
    pretrained: Path | None = None
    data: list[str] = field(default_factory=list)
    val_data: Path | None = None
    epochs: int | None = None
    batch_size: int | None = None
    samples_per_epoch: int | None = None
    workers: int | None = None
    resume: bool = False
    save_every: int = 1
    keep_last: int = 3
    val_every: int | None = None
    val_sequences: int = 8
    seed: int = 42
    amp: str = "off"
    device: str = "auto"
    max_iters: int | None = None
    freeze_bn: bool = False
    threads: int | None = None
    quiet: bool = False


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_dist(device: str) -> Dist:
    """Init the process group under torchrun (NCCL on GPU, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Dist(dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))


def _checkpoint_state(model, opt, sched, epoch: int, history: list, opts: TrainOptions, lr: float) -> dict:
    return {"epoch": epoch, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "torch_rng": torch.get_rng_state(), "history": history, "lr": lr,
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()}}


def _prune(output: Path, keep_last: int) -> None:
    ckpts = sorted(output.glob("checkpoint_ep*.pt"))
    for old in ckpts[:-keep_last] if keep_last > 0 else []:
        old.unlink(missing_ok=True)


def _resume(path: Path, model, opt, sched) -> tuple[int, list]:
    try:
        obj = read_file(path)
        model.load_state_dict(obj["net"])
        opt.load_state_dict(obj["optimizer"])
        sched.load_state_dict(obj["scheduler"])
        torch.set_rng_state(obj["torch_rng"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise TrainingError(f"cannot resume from '{path}' ({exc.__class__.__name__}: {str(exc)[:80]}); delete it "
                            "to start over or pass another --output") from None
    except DropTrackError as exc:  # a missing or corrupt file: its message already names the fix
        raise TrainingError(f"cannot resume: {exc}") from None
    return int(obj["epoch"]), list(obj.get("history", []))


def prepare(opts: TrainOptions):
    """The config with the command-line overrides applied (the reference batch is kept for LR scaling)."""
    cfg: Config = load_config(opts.config)
    if opts.epochs:
        cfg.TRAIN.EPOCH = opts.epochs
    ref = reference_batch(cfg)  # of the config as written, before any batch override
    if opts.batch_size:
        cfg.TRAIN.BATCH_SIZE = opts.batch_size
    cfg.TRAIN.LR_REFERENCE_BATCH = ref
    if opts.samples_per_epoch:
        cfg.DATA.TRAIN.SAMPLE_PER_EPOCH = opts.samples_per_epoch
    if opts.amp != "off":
        cfg.TRAIN.AMP = True
    return cfg


def train(opts: TrainOptions) -> Path:
    """Run (or resume) training; returns the path of the final checkpoint."""
    from droptrack.train.loop import run_training

    return run_training(opts)
