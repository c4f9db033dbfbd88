"""One-stream ViT backbone with candidate elimination (OSTrack `vit_ce.py`), official key names.

The forward pass follows ostrack_spec.md section 1 operation by operation (same addition order, same sort,
same zero restoration) so that official checkpoints give the official outputs. Keep counts are Python ints
computed from static sizes, so the graph exports with constant shapes.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from droptrack.errors import CheckpointError
from droptrack.model.mobilenet import StemEmbed


class DropPath(nn.Module):
    """Per-sample stochastic depth (timm semantics): survivors scaled by 1/keep_prob."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Mlp(nn.Module):
    """fc1 -> exact GELU -> fc2."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv Linear; scale applied to q before the matmul."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, return_attention: bool = False, rank_rows: slice | list[int] | None = None):
        """Output tokens and the attention probabilities used for CE ranking (None when not asked).

        return_attention: the block's own (B,H,N,N) probabilities (the official ranking source).
        rank_rows: instead, a separate softmax of only these query rows, (B,H,rows,N): the main
        MatMul -> Softmax -> MatMul then has no other consumer (fusable attention), and a reduced-precision
        graph can run this small branch in FP32 (`export.precision`).
        """
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        x = self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))
        if rank_rows is not None:
            return x, ((q[:, :, rank_rows] * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return (x, attn) if return_attention else (x, None)


def rank_rows_for(template_index, lens_t: int) -> slice | list[int] | None:
    """Query rows of the separate CE ranking softmax for a static template selection (None: not possible)."""
    if isinstance(template_index, torch.Tensor):  # official bool mask: ranked from the full attention
        return None
    if template_index is None:
        return slice(0, lens_t)
    idx = list(template_index)
    return slice(idx[0], idx[0] + 1) if len(idx) == 1 else idx


def ce_score(attn: torch.Tensor, lens_t: int, template_index: Sequence[int] | torch.Tensor | None,
             rows_only: bool = False) -> torch.Tensor:
    """(B, lens_s) attention of the selected template token(s) to each search token, averaged over heads.

    attn: the block's (B,H,N,N) probabilities, or with `rows_only` the (B,H,rows,N) ranking branch whose
    rows are already the selected template tokens.
    """
    lens_s = attn.shape[-1] - lens_t
    if rows_only:
        return attn[:, :, :, lens_t:].mean(dim=2).mean(dim=1)
    attn_t = attn[:, :, :lens_t, lens_t:]
    if template_index is None:
        return attn_t.mean(dim=2).mean(dim=1)
    if isinstance(template_index, torch.Tensor):  # official bool mask (B, lens_t): eager only
        bs, hn = attn_t.shape[:2]
        m = template_index.unsqueeze(1).unsqueeze(-1).expand(-1, hn, -1, lens_s)
        return attn_t[m].view(bs, hn, -1, lens_s).mean(dim=2).mean(dim=1)
    idx = list(template_index)  # static indices: same values as the bool mask, constant shapes for export
    sel = attn_t[:, :, idx[0]:idx[0] + 1] if len(idx) == 1 else attn_t[:, :, idx]
    return sel.mean(dim=2).mean(dim=1)


def candidate_elimination(score: torch.Tensor, tokens: torch.Tensor, lens_t: int, lens_keep: int,
                          global_index: torch.Tensor, forced_rank: torch.Tensor | None = None):
    """Keep the `lens_keep` best-scored search tokens, in score order; returns tokens, kept and removed global
    indices and the ranking used ((B, lens_s) int64, descending score; `forced_rank` replaces the sort)."""
    if forced_rank is None:
        _, rank = torch.sort(score, dim=1, descending=True)
    else:
        rank = forced_rank.to(device=score.device, dtype=torch.int64)
    topk_idx, non_topk_idx = rank[:, :lens_keep], rank[:, lens_keep:]
    keep_index = global_index.gather(dim=1, index=topk_idx)
    removed_index = global_index.gather(dim=1, index=non_topk_idx)
    tokens_t, tokens_s = tokens[:, :lens_t], tokens[:, lens_t:]
    B, _, C = tokens_s.shape
    kept = tokens_s.gather(dim=1, index=topk_idx.unsqueeze(-1).expand(B, -1, C))
    return torch.cat([tokens_t, kept], dim=1), keep_index, removed_index, rank


class Block(nn.Module):
    """Pre-norm ViT block; with a keep ratio < 1 it prunes search tokens between attention and MLP (CEBlock)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, drop_path: float = 0.0,
                 keep_ratio_search: float = 1.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.keep_ratio_search = keep_ratio_search

    def forward(self, x: torch.Tensor, global_index_s: torch.Tensor, lens_t: int, lens_keep: int | None,
                template_index=None, rank_branch: bool = False, forced_rank: torch.Tensor | None = None):
        """Returns tokens, global search indices, removed indices and the CE ranking (None without CE)."""
        rows = rank_rows_for(template_index, lens_t) if rank_branch and lens_keep is not None else None
        x_attn, attn = self.attn(self.norm1(x), return_attention=lens_keep is not None, rank_rows=rows)
        x = x + self.drop_path(x_attn)
        removed = rank = None
        if lens_keep is not None:
            score = ce_score(attn, lens_t, template_index, rows_only=rows is not None)
            x, global_index_s, removed, rank = candidate_elimination(score, x, lens_t, lens_keep, global_index_s,
                                                                     forced_rank)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, global_index_s, removed, rank


def block_keep_ratios(depth: int, ce_loc: Sequence[int], ce_keep_ratio: Sequence[float]) -> list[float]:
    """Each block's search keep ratio as the official VisionTransformerCE assigns them: blocks in `ce_loc` take the
    ratios in increasing block order (whatever order CE_LOC lists them in), the others keep everything (1.0)."""
    ratios, k = [], 0
    for i in range(depth):
        if i in ce_loc and k < len(ce_keep_ratio):
            ratios.append(float(ce_keep_ratio[k]))
            k += 1
        else:
            ratios.append(1.0)
    return ratios


class PatchEmbed(nn.Module):
    """Conv patchify shared by template and search; output (B, N, C) in row-major token order."""

    def __init__(self, patch: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformerCE(nn.Module):
    """OSTrack/DropTrack backbone: [template ; search] tokens through ViT blocks, CE at `ce_loc`."""

    def __init__(self, template_size: int, search_size: int, patch_size: int = 16, embed_dim: int = 768,
                 depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 ce_loc: Sequence[int] = (), ce_keep_ratio: Sequence[float] = (), temporal_embed: bool = True,
                 pretrain_img_size: int = 224, stem: str = ""):
        super().__init__()
        self.patch_size, self.embed_dim = patch_size, embed_dim
        self.grid_z, self.grid_x = template_size // patch_size, search_size // patch_size
        self.lens_z, self.lens_x = self.grid_z ** 2, self.grid_x ** 2
        n_pre = (pretrain_img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n_pre + 1, embed_dim))
        self.temporal_embed = temporal_embed
        if temporal_embed:
            self.temporal_pos_embed_x = nn.Parameter(torch.randn(1, 1, embed_dim))
            self.temporal_pos_embed_z = nn.Parameter(torch.randn(1, 1, embed_dim))
        self.pos_embed_z = nn.Parameter(torch.zeros(1, self.lens_z, embed_dim))
        self.pos_embed_x = nn.Parameter(torch.zeros(1, self.lens_x, embed_dim))
        self.patch_embed = StemEmbed(embed_dim) if stem == "mobilenetv2" else PatchEmbed(patch_size, embed_dim)
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        self.ce_loc = list(ce_loc)
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio, dpr[i], r)
                                    for i, r in enumerate(block_keep_ratios(depth, ce_loc, ce_keep_ratio)))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self.reset_search_template_pos_embed()

    @torch.no_grad()
    def reset_search_template_pos_embed(self) -> None:
        """Derive pos_embed_z/x from pos_embed by bicubic resizing (official `finetune_track`)."""
        self.pos_embed_z.copy_(resize_pos_embed(self.pos_embed[:, 1:], self.grid_z))
        self.pos_embed_x.copy_(resize_pos_embed(self.pos_embed[:, 1:], self.grid_x))

    def keep_counts(self, ce_keep_rate: float | None = None) -> list[int | None]:
        """Per-block number of search tokens kept (None = block does not prune), from static sizes."""
        counts: list[int | None] = []
        lens = self.lens_x
        for blk in self.blocks:
            ratio = blk.keep_ratio_search
            if ratio < 1 and (ce_keep_rate is None or ce_keep_rate < 1):
                ratio = ratio if ce_keep_rate is None else ce_keep_rate
                keep = math.ceil(ratio * lens)
                counts.append(None if keep == lens else keep)
                lens = keep
            else:
                counts.append(None)
        return counts

    def forward(self, z: torch.Tensor, x: torch.Tensor, ce_template_mask=None, ce_keep_rate: float | None = None,
                ce_rank_branch: bool = False, ce_forced_ranks: Sequence[torch.Tensor] | None = None):
        """Backbone features and aux outputs; `ce_ranks` holds each CE block's ranking (B, lens_s).

        ce_rank_branch: rank from a separate softmax of the selected template rows (`Attention`); the official
        path (False) ranks from the block's attention matrix. ce_forced_ranks: one ranking per CE block used
        instead of the model's own (e.g. an exported graph's choices, to compare numerics with equal tokens).
        """
        B = x.shape[0]
        x = self.patch_embed(x)
        z = self.patch_embed(z)
        z = z + self.pos_embed_z
        x = x + self.pos_embed_x
        if self.temporal_embed:
            z = z + self.temporal_pos_embed_z
            x = x + self.temporal_pos_embed_x
        tokens = torch.cat([z, x], dim=1)
        global_index_s = torch.arange(self.lens_x, dtype=torch.float32, device=x.device).repeat(B, 1)
        removed: list[torch.Tensor] = []
        ranks: list[torch.Tensor] = []
        forced = list(ce_forced_ranks) if ce_forced_ranks is not None else None
        for blk, keep in zip(self.blocks, self.keep_counts(ce_keep_rate)):
            given = forced[len(ranks)] if forced is not None and keep is not None else None
            tokens, global_index_s, rem, rank = blk(tokens, global_index_s, self.lens_z, keep, ce_template_mask,
                                                    ce_rank_branch, given)
            if rem is not None:
                removed.append(rem)
                ranks.append(rank)
        tokens = self.norm(tokens)
        z, x = tokens[:, :self.lens_z], tokens[:, self.lens_z:]
        if removed:
            C = x.shape[-1]
            x = torch.cat([x, x.new_zeros(B, self.lens_x - x.shape[1], C)], dim=1)
            index_all = torch.cat([global_index_s] + removed, dim=1).to(torch.int64)
            x = torch.zeros_like(x).scatter_(1, index_all.unsqueeze(-1).expand(B, -1, C), x)
        return torch.cat([z, x], dim=1), {"removed_indexes_s": removed, "global_index_s": global_index_s,
                                          "ce_ranks": ranks}


def pos_embed_grid(pos: torch.Tensor, width: int, path: object) -> torch.Tensor:
    """The square patch grid (1, g*g, width) of the pos_embed in pretrained weights `path`, after its 0-2 leading
    class / distillation tokens (MAE and timm ViT: 1; DeiT distilled: 2); CheckpointError naming what it has."""
    n = pos.shape[1] if pos.dim() == 3 else 0
    if pos.dim() != 3 or pos.shape[0] != 1 or pos.shape[2] != width:
        why = f"pos_embed has shape {tuple(pos.shape)}, not (1, tokens, {width}) as its patch embedding"
    else:
        for lead in (1, 0, 2):   # unambiguous: no two of n, n-1, n-2 are both squares of a positive grid
            if n > lead and math.isqrt(n - lead) ** 2 == n - lead:
                return pos[:, lead:]
        why = f"pos_embed has {n} tokens: no square patch grid after 0-2 class tokens"
    raise CheckpointError(f"'{path}': {why}; pass intact ViT weights (MAE, DropMAE, timm) with a square patch grid")


def resize_pos_embed(grid_tokens: torch.Tensor, new_grid: int) -> torch.Tensor:
    """(1, g*g, C) row-major grid -> (1, new*new, C) by bicubic, align_corners=False, no antialias."""
    n, C = grid_tokens.shape[1], grid_tokens.shape[2]
    g = int(round(math.sqrt(n)))
    if g * g != n:
        raise ValueError(f"pos_embed has {n} grid tokens, not a square grid")
    img = grid_tokens.reshape(1, g, g, C).permute(0, 3, 1, 2)
    if g != new_grid:
        img = F.interpolate(img, size=(new_grid, new_grid), mode="bicubic", align_corners=False)
    return img.flatten(2).transpose(1, 2)


def fit_pos_embeds(net: dict, own: dict) -> dict[str, torch.Tensor]:
    """A tracking checkpoint's pos_embed_z / pos_embed_x of another crop size (a 256 model into a 384 config)
    resized bicubically to this model's grids, as they are derived from pretraining weights; {} where none differs
    (or one is not a square grid of the same width)."""
    out = {}
    for k in ("backbone.pos_embed_z", "backbone.pos_embed_x"):
        src, dst = net.get(k), own.get(k)
        if src is None or dst is None or src.shape == dst.shape or src.dim() != 3 or src.shape[2] != dst.shape[2]:
            continue
        g, h = math.isqrt(src.shape[1]), math.isqrt(dst.shape[1])
        if g * g == src.shape[1] and h * h == dst.shape[1] and src.is_floating_point():
            out[k] = resize_pos_embed(src.float(), h)
    return out
