"""Which config keys a checkpoint's weights disagree with, read from the tensors' shapes alone.

An official checkpoint carries no config: its patch size, width, depth, head channels and crop sizes are in the
shapes of its tensors. When it does not fit the config given, the error names each config key whose value differs
from what the weights show (MODEL.BACKBONE.STRIDE 8, the checkpoint's patch is 16), not only the first tensors.
"""

from __future__ import annotations

import math
import re

import torch

from droptrack.model.registry import backbone_spec


def weight_facts(state: dict) -> dict[str, int]:
    """patch, width, depth, head channels and search/template tokens shown by a state dict's shapes (those it has)."""
    def shape(key: str, dims: int) -> tuple | None:
        t = state.get(key)
        return tuple(t.shape) if isinstance(t, torch.Tensor) and t.dim() == dims else None

    facts = {}
    proj = shape("backbone.patch_embed.proj.weight", 4)
    if proj:
        facts["width"], facts["patch"] = proj[0], proj[-1]
    blocks = {int(m.group(1)) for k in state if isinstance(k, str) and (m := re.match(r"backbone\.blocks\.(\d+)\.", k))}
    if blocks:
        facts["depth"] = max(blocks) + 1
    head = shape("box_head.conv1_ctr.0.weight", 4)
    if head:
        facts["channels"] = head[0]
    for part, key in (("search", "backbone.pos_embed_x"), ("template", "backbone.pos_embed_z")):
        pos = shape(key, 3)
        if pos:
            facts[part] = pos[1]
    return facts


def _side(tokens: int) -> int | None:
    side = math.isqrt(tokens)
    return side if side * side == tokens else None


def disagreeing_keys(state: dict, cfg) -> list[str]:
    """'KEY is V in the config, the checkpoint's ... is W' for each config key the weights contradict."""
    facts, bb, spec = weight_facts(state), cfg.MODEL.BACKBONE, backbone_spec(cfg)
    out = []
    if "patch" in facts and facts["patch"] != bb.STRIDE:
        out.append(f"MODEL.BACKBONE.STRIDE is {bb.STRIDE} in the config, the checkpoint's patch is {facts['patch']}")
    for fact, name, value in (("width", "EMBED_DIM", spec.embed_dim), ("depth", "DEPTH", spec.depth)):
        if fact in facts and facts[fact] != value:
            key = f"MODEL.BACKBONE.{name}" if getattr(bb, name) else f"MODEL.BACKBONE.TYPE {bb.TYPE}"
            out.append(f"{key} gives {fact} {value}, the checkpoint's {fact} is {facts[fact]}")
    if "channels" in facts and facts["channels"] != cfg.MODEL.HEAD.NUM_CHANNELS:
        out.append(f"MODEL.HEAD.NUM_CHANNELS is {cfg.MODEL.HEAD.NUM_CHANNELS} in the config, the checkpoint's is "
                   f"{facts['channels']}")
    patch = facts.get("patch", bb.STRIDE)
    for part in ("search", "template"):
        side = _side(facts[part]) if part in facts else None
        size = getattr(cfg.DATA, part.upper()).SIZE
        if side and side * patch != size:
            out.append(f"DATA.{part.upper()}.SIZE is {size} in the config, the checkpoint's is {side * patch} "
                       f"({side}x{side} tokens of {patch} px)")
    return out


def check_buildable(state: dict, cfg) -> None:
    """A CheckpointError where `cfg`'s model must not be built for these weights: a config whose backbone would hold
    far more than the checkpoint does (EMBED_DIM 8388608 asked for 24 GiB before the shapes were compared)."""
    from droptrack.errors import CheckpointError

    spec = backbone_spec(cfg)
    planned = 12 * spec.embed_dim ** 2 * spec.depth   # a ViT block's weights: 4 D^2 attention + 8 D^2 MLP
    held = sum(t.numel() for t in state.values() if isinstance(t, torch.Tensor))
    if planned <= 4 * held + (1 << 24):
        return
    why = "; ".join(disagreeing_keys(state, cfg)) or "its backbone is far larger than the checkpoint's weights"
    raise CheckpointError(f"checkpoint does not fit config '{cfg.NAME}': {why}; building that model would take "
                          f"{planned * 4 / 2**30:.1f} GiB for weights the file does not hold; "
                          f"{_whole_config_hint(state, cfg.NAME)}pass the right --config")


def _whole_config_hint(state: dict, name: str) -> str:
    """For a YAML config (`name` is no shipped one), often a few keys over the ViT-B defaults: the shipped config
    whose model fits `state`, to copy and change ('' where none does or `name` is shipped)."""
    from droptrack.config import available_configs, load_config

    shipped = available_configs()
    if name in shipped:
        return ""
    fit = next((n for n in shipped if not disagreeing_keys(state, load_config(n))), None)
    if fit is None:
        return ""
    from importlib import resources

    path = resources.files("droptrack") / "configs" / f"{fit}.yaml"   # where this install keeps it
    return (f"{path} fits these weights (a YAML is a whole config: the keys it leaves out take the defaults, a "
            "ViT-B's; start from a copy of it); ")
