"""Grow a trained tracker deeper without changing what it computes: copy its weights into a config with more ViT
blocks and start the new blocks with zero residual outputs (attention proj and MLP fc2 at 0), so each new block is
the identity until fine-tuning moves it. Prints the parity of the grown model against the original.

Usage: python benchmarks/grow_model.py CKPT --config benchmarks/configs/droptrack_tiny_synth_v5deep.yaml --out GROWN.pt
Then: dt train --config (same) --pretrained GROWN.pt ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from droptrack.config import load_config
from droptrack.model.checkpoint import load_tracking_checkpoint, save_checkpoint
from droptrack.model.ostrack import build_model
from droptrack.errors import InputError, run_script


def grow(ckpt: Path, config: Path, seed: int = 0):
    """The grown model (new blocks appended after the old ones, residual outputs zeroed) and its config."""
    old, _ = load_tracking_checkpoint(ckpt)
    cfg = load_config(config)
    torch.manual_seed(seed)
    new = build_model(cfg, variant=old.variant).eval()
    own, src = new.state_dict(), old.state_dict()
    n_old = len(old.backbone.blocks)
    if len(new.backbone.blocks) <= n_old:
        raise InputError(f"the config has {len(new.backbone.blocks)} blocks; it must have more than the {n_old} of {ckpt}")
    missing = [k for k in own if k not in src]
    bad = [k for k in src if k not in own or own[k].shape != src[k].shape]
    if bad:
        raise InputError(f"{len(bad)} weights of {ckpt} do not fit the grown config, e.g. {bad[0]}")
    own.update(src)
    for k in missing:
        if not k.startswith("backbone.blocks."):
            raise InputError(f"unexpected new weight {k}: only blocks may be added")
        if k.endswith(("attn.proj.weight", "attn.proj.bias", "mlp.fc2.weight", "mlp.fc2.bias")):
            own[k] = torch.zeros_like(own[k])
    new.load_state_dict(own, strict=True)
    return old, new, cfg


def parity(old, new, cfg, n: int = 4) -> float:
    """Max abs difference of the score map and boxes on random crops (0 up to float rounding when growth is exact)."""
    g = torch.Generator().manual_seed(1)
    z = torch.rand(n, 3, cfg.DATA.TEMPLATE.SIZE, cfg.DATA.TEMPLATE.SIZE, generator=g)
    x = torch.rand(n, 3, cfg.DATA.SEARCH.SIZE, cfg.DATA.SEARCH.SIZE, generator=g)
    with torch.no_grad():
        a, b = old(z, x), new(z, x)
    keys = [k for k in a if isinstance(a[k], torch.Tensor) and a[k].is_floating_point() and k in b]
    return max(float((a[k] - b[k]).abs().max()) for k in keys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--config", type=Path, required=True, help="the deeper config (same width, crops and CE)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    old, new, cfg = grow(args.checkpoint, args.config)
    diff = parity(old, new, cfg)
    print(f"{len(old.backbone.blocks)} -> {len(new.backbone.blocks)} blocks; max abs output difference {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit("the grown model does not compute the original's function; not written")
    save_checkpoint(args.out, new, cfg, extra={"grown_from": str(args.checkpoint)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_script(main)
