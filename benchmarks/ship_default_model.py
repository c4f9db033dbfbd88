"""Turn a training checkpoint into the embedded default model (weights + config + meta + training record, no
optimizer state), written atomically to droptrack/weights/droptrack_tiny_synth.pt.

Usage: python benchmarks/ship_default_model.py RUN/checkpoint_ep0050.pt --data "dt data synth ..." \
           --command "dt train ..." [--selected-by "last epoch"] [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from droptrack.model.checkpoint import load_tracking_checkpoint, save_checkpoint
from droptrack.model.default import default_checkpoint


def main() -> None:
    """Load the run checkpoint strictly, keep its training history, save fp32 weights (fp16 costs AUC)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--data", required=True, help="the `dt data synth` command that made the training set")
    ap.add_argument("--command", action="append", required=True, help="the `dt train` command(s), in order")
    ap.add_argument("--selected-by", default="last epoch of the recipe")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    run = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    model, cfg = load_tracking_checkpoint(args.checkpoint)
    training = {"epochs": int(run["epoch"]), "selected_by": args.selected_by, "history": run.get("history", []),
                "data": args.data, "commands": list(args.command)}
    out = args.out or default_checkpoint()
    save_checkpoint(out, model, cfg, extra={"training": training})
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, epoch {training['epochs']})")


if __name__ == "__main__":
    main()
