"""A DropMAE pre-training checkpoint as its trainer saves it ({model, optimizer, epoch, scaler, args}, args an
argparse.Namespace; ostrack_spec.md §5) loads as `dt train --pretrained` weights without running code: the
Namespace is read as an inert record, the encoder lands as the spec's simulated load says (missing cls_token,
temporal and pos embeds copied exactly, decoder and mask_token not loaded)."""

from __future__ import annotations

import argparse
from importlib import resources

import pytest
import torch
import yaml

from droptrack.config import load_config
from droptrack.errors import CheckpointError
from droptrack.model.checkpoint import load_pretrained
from droptrack.model.ostrack import build_model
from droptrack.model.vit import resize_pos_embed

DIM, DEPTH = 64, 4   # tiny_ce_test's width and depth


def _encoder() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(11)
    sd = {"pos_embed": torch.randn(1, 197, DIM, generator=g), "patch_embed.proj.weight": torch.randn(DIM, 3, 16, 16,
          generator=g), "patch_embed.proj.bias": torch.randn(DIM, generator=g), "norm.weight": torch.ones(DIM),
          "norm.bias": torch.zeros(DIM), "temporal_pos_embed_x": torch.randn(1, 1, DIM, generator=g),
          "temporal_pos_embed_z": torch.randn(1, 1, DIM, generator=g)}
    for i in range(DEPTH):
        for name, shape in (("norm1.weight", (DIM,)), ("norm1.bias", (DIM,)), ("attn.qkv.weight", (3 * DIM, DIM)),
                            ("attn.qkv.bias", (3 * DIM,)), ("attn.proj.weight", (DIM, DIM)),
                            ("attn.proj.bias", (DIM,)), ("norm2.weight", (DIM,)), ("norm2.bias", (DIM,)),
                            ("mlp.fc1.weight", (4 * DIM, DIM)), ("mlp.fc1.bias", (4 * DIM,)),
                            ("mlp.fc2.weight", (DIM, 4 * DIM)), ("mlp.fc2.bias", (DIM,))):
            sd[f"blocks.{i}.{name}"] = torch.randn(shape, generator=g)
    return sd


def test_dropmae_checkpoint_with_its_args_namespace_loads_as_plain_data(tmp_path):
    encoder = _encoder()
    model_sd = {**encoder, "mask_token": torch.zeros(1, 1, 32), "decoder_embed.weight": torch.randn(32, DIM),
                "decoder_pos_embed": torch.randn(1, 197, 32), "decoder_temporal_pos_embed_x": torch.randn(1, 1, 32)}
    args = argparse.Namespace(model="mae_vit_base_patch16", mask_ratio=0.75, output_dir="./output_dir", blr=1.5e-4)
    path = tmp_path / "dropmae_k400_1600e.pth"
    torch.save({"model": model_sd, "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]},
                "epoch": 1599, "scaler": {"scale": 65536.0, "_growth_tracker": 10}, "args": args}, path)
    model = build_model(load_config("tiny_ce_test"), variant="droptrack")
    report = load_pretrained(model, path)
    assert report.missing == ["cls_token"]
    assert "mask_token" in report.dropped and not report.unexpected
    bb = model.backbone.state_dict()
    for key in ("temporal_pos_embed_x", "temporal_pos_embed_z", "patch_embed.proj.weight", "blocks.3.mlp.fc2.weight"):
        assert torch.equal(bb[key], encoder[key]), key
    grid = encoder["pos_embed"][:, 1:]   # 14x14 grid of the 224 ViT, without the cls slot
    assert torch.equal(bb["pos_embed_x"], resize_pos_embed(grid, 8))   # 128 px search / 16 = 8x8


def test_mae_weights_saved_from_the_ddp_wrapper_load_by_their_keys(tmp_path):
    """MAE weights saved from a DistributedDataParallel model (`module.` before every key), no head: each tensor
    lands on its key (it was 'not a ViT checkpoint (no patch_embed.proj ...)')."""
    encoder = {k: v for k, v in _encoder().items() if not k.startswith("temporal_")}
    path = tmp_path / "mae_pretrain_vit_base.pth"
    torch.save({"model": {f"module.{k}": v for k, v in encoder.items()}}, path)
    model = build_model(load_config("tiny_ce_test"), variant="ostrack")
    report = load_pretrained(model, path)
    bb = model.backbone.state_dict()
    assert not report.unexpected and all(torch.equal(bb[k], encoder[k]) for k in encoder if k != "pos_embed")


def test_mae_weights_of_another_width_or_patch_name_the_config_key(tmp_path):
    """It said 'the config needs width 32 and patch 16' without the key that sets them."""
    path = tmp_path / "mae_pretrain_vit_base.pth"
    torch.save({"model": _encoder()}, path)   # width 64, patch 16
    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    data["MODEL"]["BACKBONE"].update(EMBED_DIM=32, STRIDE=8)
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(CheckpointError) as exc:
        load_pretrained(build_model(load_config(tmp_path / "other.yaml")), path)
    line = str(exc.value)
    assert "width 64, the config's MODEL.BACKBONE.TYPE / EMBED_DIM give 32" in line, line
    assert "patch 16, the config's MODEL.BACKBONE.STRIDE is 8" in line, line
