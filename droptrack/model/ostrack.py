"""The OSTrack / DropTrack network (`backbone` + `box_head`), built from a config by name."""

from __future__ import annotations

import torch
from torch import nn

from droptrack.config import Config
from droptrack.errors import ConfigError
from droptrack.geometry import template_center_index
from droptrack.model.head import CenterPredictor
from droptrack.model.registry import backbone_spec
from droptrack.model.vit import VisionTransformerCE


class OSTrack(nn.Module):
    """One-stream tracker: forward(template, search) -> dict(pred_boxes, score_map, size_map, offset_map, ...)."""

    def __init__(self, backbone: VisionTransformerCE, box_head: CenterPredictor, template_index=None):
        super().__init__()
        self.backbone = backbone
        self.box_head = box_head
        self.feat_sz_s = backbone.grid_x
        self.feat_len_s = backbone.lens_x
        # static CE template selection (CTR_POINT -> the centre token); None averages all template tokens
        self.template_index = template_index

    @property
    def variant(self) -> str:
        """'droptrack' when the backbone has frame-identity embeddings, else 'ostrack'."""
        return "droptrack" if self.backbone.temporal_embed else "ostrack"

    def forward(self, template: torch.Tensor, search: torch.Tensor, ce_template_mask=None,
                ce_keep_rate: float | None = None, ce_rank_branch: bool = False, ce_forced_ranks=None) -> dict:
        """Official forward; `ce_template_mask` is the official bool mask (B,Lz) or static template indices.

        ce_rank_branch / ce_forced_ranks: see `VisionTransformerCE.forward` (defaults = official numerics).
        """
        feat, aux = self.backbone(template, search, ce_template_mask=ce_template_mask, ce_keep_rate=ce_keep_rate,
                                  ce_rank_branch=ce_rank_branch, ce_forced_ranks=ce_forced_ranks)
        out = self.forward_head(feat)
        out.update(aux)
        out["backbone_feat"] = feat
        return out

    def forward_head(self, feat: torch.Tensor) -> dict:
        """Search tokens -> (B,C,F,F) -> CENTER head."""
        enc = feat[:, -self.feat_len_s:]
        opt = enc.unsqueeze(-1).permute(0, 3, 2, 1).contiguous()
        bs, nq, C, _ = opt.size()
        opt_feat = opt.view(-1, C, self.feat_sz_s, self.feat_sz_s)
        score_map, bbox, size_map, offset_map = self.box_head(opt_feat)
        return {"pred_boxes": bbox.view(bs, nq, 4), "score_map": score_map, "size_map": size_map,
                "offset_map": offset_map}

    def template_mask(self, batch: int = 1) -> torch.Tensor | None:
        """Official `box_mask_z` for the configured CE_TEMPLATE_RANGE (bool (B,Lz)), or None for ALL."""
        if self.template_index is None:
            return None
        m = torch.zeros(batch, self.backbone.lens_z, dtype=torch.bool)
        m[:, list(self.template_index)] = True
        return m


def template_index_for(cfg: Config, grid_z: int) -> tuple[int, ...] | None:
    """Static template-token selection of CE_TEMPLATE_RANGE (only the configurations the tracker uses)."""
    mode = cfg.MODEL.BACKBONE.CE_TEMPLATE_RANGE
    if mode == "CTR_POINT":
        return (template_center_index(grid_z),)
    if mode == "ALL":
        return None
    raise ConfigError(f"MODEL.BACKBONE.CE_TEMPLATE_RANGE={mode!r} is not supported; use 'CTR_POINT' (the released "
                      "configs) or 'ALL'")


def check_crop_sizes(cfg: Config) -> None:
    """ConfigError naming the crop whose training and tracking sizes differ (the network has one size of each)."""
    for part in ("SEARCH", "TEMPLATE"):
        train_size, test_size = getattr(cfg.DATA, part).SIZE, getattr(cfg.TEST, f"{part}_SIZE")
        if train_size != test_size:
            raise ConfigError(f"DATA.{part}.SIZE {train_size} and TEST.{part}_SIZE {test_size} differ; the network "
                              f"has one {part.lower()} size: set both to the same value")


def build_model(cfg: Config, variant: str | None = None, training: bool = False) -> OSTrack:
    """Build the network of `cfg` (random init; DropTrack by default, OSTrack with variant='ostrack')."""
    spec = backbone_spec(cfg)
    bb_cfg = cfg.MODEL.BACKBONE
    if cfg.MODEL.HEAD.TYPE != "CENTER":
        raise ConfigError(f"MODEL.HEAD.TYPE={cfg.MODEL.HEAD.TYPE!r} is not supported; use 'CENTER'")
    check_crop_sizes(cfg)
    variant = variant or cfg.MODEL.VARIANT
    backbone = VisionTransformerCE(
        template_size=cfg.DATA.TEMPLATE.SIZE, search_size=cfg.DATA.SEARCH.SIZE, patch_size=bb_cfg.STRIDE,
        embed_dim=spec.embed_dim, depth=spec.depth, num_heads=spec.num_heads,
        drop_path_rate=cfg.TRAIN.DROP_PATH_RATE if training else 0.0,
        ce_loc=bb_cfg.CE_LOC if spec.ce else (), ce_keep_ratio=bb_cfg.CE_KEEP_RATIO if spec.ce else (),
        temporal_embed=variant == "droptrack", stem=bb_cfg.STEM)
    head = CenterPredictor(spec.embed_dim, cfg.MODEL.HEAD.NUM_CHANNELS, backbone.grid_x)
    return OSTrack(backbone, head, template_index_for(cfg, backbone.grid_z))
