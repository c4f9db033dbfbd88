"""Deterministic, checkpoint-free OSTrack weights by the rules documented with the official reference outputs.

Every tensor comes from its own CPU generator seeded with crc32(key), one randn (rand for BatchNorm running_var)
call, then `* std + mean` in float32. Written from the rule table, and checked against the reference's per-key
sha256 (`weights_checksums_ostrack256ce.json`) before any output is compared.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from pathlib import Path

import json

import torch

REF = Path(__file__).parent / "data" / "official_ostrack256ce"   # the official outputs these weights reproduce

# size / offset output-bias means by number of search tokens (w,h) / (x,y)
_SIZE_BIAS = {576: (-1.616, -2.15), 256: (-1.359, -1.784)}
_OFFSET_BIAS = {576: (1.01, -0.72), 256: (0.72, -0.37)}
_OUT_GAIN = {"ctr": 3.0, "offset": 1.0, "size": 0.5}


def read_listing(path: Path) -> list[tuple[str, tuple[int, ...], str]]:
    """'key (d0, d1) dtype' lines -> (key, shape, dtype)."""
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            key, dims, dtype = re.fullmatch(r"(\S+)\s+\(([^)]*)\)\s+(\S+)", line.strip()).groups()
            out.append((key, tuple(int(d) for d in dims.replace(" ", "").split(",") if d), dtype))
    return out


def _rule(key: str, shape: tuple, dtype: str, shapes: dict) -> tuple[str, object, float]:
    module, _, leaf = key.rpartition(".")
    if not dtype.startswith("float"):
        return "zeros", 0.0, 0.0
    if f"{module}.running_mean" in shapes:  # BatchNorm
        return {"weight": ("normal", 1.0, 0.05), "bias": ("normal", 0.0, 0.05),
                "running_mean": ("normal", 0.0, 0.1), "running_var": ("uniform", 0.5, 1.0)}[leaf]
    if leaf.startswith("pos_embed"):
        return "normal", 0.0, 0.5
    if leaf.startswith("temporal_pos_embed") or leaf == "cls_token":
        return "normal", 0.0, 0.02
    if leaf == "weight" and len(shape) == 1:
        return "normal", 1.0, 0.05
    if leaf == "bias" and len(shapes.get(f"{module}.weight", ())) == 1:
        return "normal", 0.0, 0.02
    if leaf == "weight" and len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        if key.startswith("box_head.") and re.search(r"\.conv[1-4]_[a-z]+\.0\.weight$", key):
            return "normal", 0.0, math.sqrt(2.0 / fan_in)
        out = re.search(r"^box_head\..*conv5_([a-z]+)\.weight$", key)
        if out:
            return "normal", 0.0, _OUT_GAIN[out.group(1)] / math.sqrt(fan_in)
        return "normal", 0.0, 1.0 / math.sqrt(fan_in)
    if leaf == "weight" and len(shape) == 2:
        return "normal", 0.0, 0.04
    if key in ("box_head.conv5_size.bias", "box_head.conv5_offset.bias"):
        px = shapes.get("backbone.pos_embed_x", ())
        table = _SIZE_BIAS if "size" in key else _OFFSET_BIAS
        default = (-1.25, -1.25) if "size" in key else (0.0, 0.0)
        return "normal", table.get(px[1] if len(px) == 3 else None, default), 0.01
    return "normal", 0.0, 0.01


def make_weights(listing: list[tuple[str, tuple[int, ...], str]]) -> dict[str, torch.Tensor]:
    """The state dict of the listing."""
    shapes = {k: s for k, s, _ in listing}
    sd = {}
    for key, shape, dtype in listing:
        kind, mean, std = _rule(key, shape, dtype, shapes)
        if kind == "zeros":
            sd[key] = torch.zeros(shape, dtype=getattr(torch, dtype))
            continue
        g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
        draw = torch.rand if kind == "uniform" else torch.randn
        t = draw(shape, generator=g, dtype=torch.float32)
        sd[key] = t * std + (torch.tensor(mean, dtype=torch.float32) if isinstance(mean, tuple) else mean)
    return sd


def sha16(t: torch.Tensor) -> str:
    """First 16 hex digits of the sha256 of the tensor's bytes."""
    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()[:16]


def checksum_mismatches(weights: dict[str, torch.Tensor]) -> list[str]:
    """Keys whose tensors differ from the reference build's (another torch build may draw other random numbers)."""
    expected = json.loads((REF / "weights_sha256_ostrack256ce.json").read_text())["sha256"]
    return [k for k, v in weights.items() if sha16(v) != expected[k]]
