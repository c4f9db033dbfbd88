"""Named backbone variants (timm-style names used by the official YAML `MODEL.BACKBONE.TYPE`)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from droptrack.errors import ConfigError


@dataclass(frozen=True)
class BackboneSpec:
    """Width, depth and heads of a ViT, and whether it has candidate elimination."""

    embed_dim: int
    depth: int
    num_heads: int
    ce: bool


_WIDTHS = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12), "large": (1024, 24, 16)}
BACKBONES: dict[str, BackboneSpec] = {}
for _name, (_d, _depth, _h) in _WIDTHS.items():
    BACKBONES[f"vit_{_name}_patch16_224"] = BackboneSpec(_d, _depth, _h, False)
    BACKBONES[f"vit_{_name}_patch16_224_ce"] = BackboneSpec(_d, _depth, _h, True)


def backbone_spec(cfg) -> BackboneSpec:
    """Spec of cfg.MODEL.BACKBONE.TYPE with EMBED_DIM / DEPTH / NUM_HEADS overrides applied."""
    bb = cfg.MODEL.BACKBONE
    if bb.TYPE not in BACKBONES:
        close = difflib.get_close_matches(bb.TYPE, list(BACKBONES), n=1, cutoff=0.4)
        hint = f"did you mean '{close[0]}'?" if close else f"choose one of: {', '.join(BACKBONES)}"
        raise ConfigError(f"unknown MODEL.BACKBONE.TYPE '{bb.TYPE}'; {hint}")
    s = BACKBONES[bb.TYPE]
    dim = bb.EMBED_DIM or s.embed_dim
    heads = bb.NUM_HEADS or s.num_heads
    if dim % heads:
        raise ConfigError(f"MODEL.BACKBONE.EMBED_DIM={dim} is not divisible by NUM_HEADS={heads}; pick a NUM_HEADS "
                          f"that divides it (e.g. {max(h for h in range(1, min(heads, dim) + 1) if dim % h == 0)})")
    if bb.STEM and bb.STRIDE != 16:
        raise ConfigError(f"MODEL.BACKBONE.STEM {bb.STEM} gives stride 16, not STRIDE {bb.STRIDE}; set STRIDE 16")
    depth = bb.DEPTH or s.depth
    if s.ce and any(i >= depth for i in bb.CE_LOC):   # the official loop skips them: CE would silently not happen
        raise ConfigError(f"MODEL.BACKBONE.CE_LOC {list(bb.CE_LOC)} names blocks the {depth}-block backbone lacks "
                          f"(DEPTH {depth}: blocks 0..{depth - 1}); use block indices below DEPTH")
    return BackboneSpec(dim, depth, heads, s.ce and bool(bb.CE_LOC))
