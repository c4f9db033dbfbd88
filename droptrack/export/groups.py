"""Layer groups of a ViT tracker's graph by node name (block3.qkv, patch_embed, head) and the kept-group entries
that `--int8-keep` and the precision search name them by."""

from __future__ import annotations

import re

from droptrack.errors import ExportError

_BLOCK = re.compile(r"blocks\.(\d+)/(?:attn/(qkv|proj)|(attn)|(mlp))")
# block numbers as the groups are named (block0, block12): block01 would match no group and keep nothing
KEEP_ENTRY = re.compile(r"patch_embed|head|qkv|attn|proj|mlp|block(0|[1-9]\d*)(\.(qkv|attn|proj|mlp))?")


def group_of(node_name: str) -> str | None:
    """Layer group of a quantizable node name ('block3.qkv', 'block3.attn', 'patch_embed', 'head', ...)."""
    if "patch_embed" in node_name:
        return "patch_embed"
    if "box_head" in node_name:
        return "head"
    m = _BLOCK.search(node_name)
    if m is None:
        return None
    kind = m.group(2) or m.group(3) or m.group(4)
    return f"block{int(m.group(1))}.{kind}"


def group_order(group: str) -> tuple[int, int, str]:
    """Sort key of a layer group in the order the network runs them: patch_embed, block0 ... block11 (by number,
    not as text: block10 after block9), head."""
    m = re.fullmatch(r"block(\d+)\.(\w+)", group)
    if m is not None:
        return 1, int(m.group(1)), m.group(2)
    return (0, 0, group) if group == "patch_embed" else (2, 0, group)


def matches(group: str, kept: tuple[str, ...]) -> bool:
    """A kept entry names a group exactly, a block ('block3') or a kind in every block ('attn', 'mlp')."""
    return any(group == k or group.startswith(k + ".") or group.endswith("." + k) for k in kept)


def kept_nodes(groups: dict[str, list[str]], kept: tuple[str, ...]) -> list[str]:
    """Quantizable nodes of the kept groups (they stay in high precision); a block the graph lacks -> ExportError."""
    check_kept_blocks(kept, len({g.split(".")[0] for g in groups if g.startswith("block")}))
    return [n for g, names in groups.items() if matches(g, kept) for n in names]


def check_kept_blocks(kept: tuple[str, ...], depth: int) -> None:
    """A kept entry naming a block the model does not have (block9 of 8) -> one-line ExportError."""
    missing = [k for k in kept if k.startswith("block") and int(k[5:].split(".")[0]) >= depth]
    if missing:
        raise ExportError(f"--int8-keep {','.join(missing)}: this model has blocks block0 to block{depth - 1}; "
                          "name one of those")


def parse_int8_keep(values: list[str] | tuple[str, ...]) -> tuple[str, ...] | None:
    """--int8-keep values (comma-separated or repeated) -> kept entries; none given -> None (the defaults);
    'none' -> () (every group INT8); an entry that names no group -> one-line ExportError."""
    items = [v.strip() for s in values for v in str(s).split(",") if v.strip()]
    if not items:
        return None
    if [v.lower() for v in items] == ["none"]:
        return ()
    if "none" in [v.lower() for v in items]:
        raise ExportError(f"--int8-keep {','.join(items)}: 'none' (every group INT8) cannot go with group names; "
                          "give either 'none' or the groups to keep")
    bad = [v for v in items if not KEEP_ENTRY.fullmatch(v)]
    if bad:
        raise ExportError(f"--int8-keep {bad[0]!r} names no layer group; give groups as --auto-precision reports them "
                          "(block3.mlp, block0.proj), a block (block3), a kind in every block (qkv, attn, proj, mlp), "
                          "patch_embed or head, comma-separated, or 'none' for every group INT8")
    return tuple(dict.fromkeys(items))
