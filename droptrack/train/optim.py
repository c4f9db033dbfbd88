"""Optimiser, LR schedule, LR scaling and the CE keep-rate warm-up of the official recipe."""

from __future__ import annotations

import math

import torch

from droptrack.config import Config


def param_groups(model: torch.nn.Module, lr: float, backbone_multiplier: float) -> list[dict]:
    """Head params at lr, 'backbone' params at lr*multiplier (all with weight decay, as official)."""
    head = [p for n, p in model.named_parameters() if "backbone" not in n and p.requires_grad]
    backbone = [p for n, p in model.named_parameters() if "backbone" in n and p.requires_grad]
    return [{"params": head, "lr": lr}, {"params": backbone, "lr": lr * backbone_multiplier}]


def build_optimizer(model: torch.nn.Module, cfg: Config, lr: float):
    """AdamW (wd on all params) + StepLR(LR_DROP_EPOCH, gamma 0.1), stepped once per epoch."""
    opt = torch.optim.AdamW(param_groups(model, lr, cfg.TRAIN.BACKBONE_MULTIPLIER), lr=lr,
                            weight_decay=cfg.TRAIN.WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.TRAIN.LR_DROP_EPOCH, gamma=0.1)
    return opt, sched


def reference_batch(cfg: Config) -> int:
    """Global batch the config's LR was tuned for (official recipe: BATCH_SIZE x 4 GPUs)."""
    return int(cfg.TRAIN.LR_REFERENCE_BATCH or cfg.TRAIN.BATCH_SIZE * 4)


def scaled_lr(cfg: Config, global_batch: int) -> float:
    """Linear LR scaling with the global batch (OSTrack #15, #78)."""
    return cfg.TRAIN.LR * global_batch / reference_batch(cfg)


def epoch_iterations(samples: int, world: int, batch: int) -> int:
    """Iterations per epoch as the official loader runs them: DistributedSampler gives each of `world` ranks
    ceil(samples / world) samples, of which only whole batches are used (drop_last)."""
    return -(-samples // world) // batch


def ce_keep_rate(epoch: int, start: int, warm: int, base: float) -> float:
    """Per-epoch cosine keep ratio: 1 before `start`, `base` from start+warm (epoch is 1-based)."""
    if epoch < start:
        return 1.0
    if epoch >= start + warm:
        return base
    return base + (1 - base) * (math.cos((epoch - start) / warm * math.pi) + 1) * 0.5
