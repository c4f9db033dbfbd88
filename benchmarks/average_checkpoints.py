"""Average the weights of several checkpoints of one training run (checkpoint averaging, as in SWA's uniform
average over the last epochs): a smoother model than any single epoch, whose validation AUC swings by 2-4 points
from epoch to epoch on these small synthetic sets.

Usage: python benchmarks/average_checkpoints.py RUN/checkpoint_ep0008.pt RUN/checkpoint_ep0009.pt ... --out AVG.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from droptrack.model.checkpoint import load_tracking_checkpoint, save_checkpoint
from droptrack.errors import run_script


def average(paths: list[Path]):
    """The first checkpoint's model with every floating-point weight replaced by the mean over all checkpoints."""
    model, cfg = load_tracking_checkpoint(paths[0])
    states = [model.state_dict()] + [load_tracking_checkpoint(p, config=cfg)[0].state_dict() for p in paths[1:]]
    mean = {k: torch.stack([s[k] for s in states]).mean(0) if v.is_floating_point() else v
            for k, v in states[0].items()}
    model.load_state_dict(mean, strict=True)
    return model, cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if len(args.checkpoints) < 2:
        ap.error("give at least two checkpoints")
    if args.out.resolve() in {p.resolve() for p in args.checkpoints}:
        ap.error("--out would overwrite an input checkpoint; pick another path")
    model, cfg = average(args.checkpoints)
    save_checkpoint(args.out, model, cfg, extra={"averaged_from": [str(p) for p in args.checkpoints]})
    print(f"wrote {args.out}: mean of {len(args.checkpoints)} checkpoints")


if __name__ == "__main__":
    run_script(main)
