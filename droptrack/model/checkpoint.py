"""Checkpoints: official tracking checkpoints (`net`), MAE / DropMAE / timm pretraining weights, and our own.

Our format is plain data only (config dict, state dict, metadata), loads with `weights_only=True`, is written
atomically and rebuilds the model without the original config file (nanoGPT `model_args` style).

Model files never run code: a pickle is read weights-only, its foreign objects refused or (`trust`,
`--trust-checkpoint`) read as inert records (droptrack.model.safe_pickle); a .safetensors file holds tensors only.
Weights that are NaN or infinite are refused at load, naming the tensor.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from droptrack.artifact import ArtifactMeta, artifact_format, atomic_torch_save, atomic_write, content_problem
from droptrack.config import Config, config_from_dict, config_to_dict, load_config, meta_from_config
from droptrack.errors import CheckpointError, ConfigError, MetadataError, printable
from droptrack.paths import check_readable, check_regular, windows_note
from droptrack.model.arch_keys import check_buildable, disagreeing_keys, weight_facts
from droptrack.model.ostrack import OSTrack, build_model
from droptrack.model.safe_pickle import load_pickle
from droptrack.model.torch_files import (archive_problem, check_layout, check_named, header_problem, net_state,
                                         tensor_problem, unreadable_note, without_ddp_prefix)
from droptrack.model.vit import fit_pos_embeds, pos_embed_grid, resize_pos_embed

FORMAT = "droptrack"
FORMAT_VERSION = 1


@dataclass
class LoadReport:
    """What a pretrained load did: keys that were missing, unexpected (ignored) and dropped on purpose."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    wrong_shape: list[str] = field(default_factory=list)   # 'key (file shape) vs (model shape)': not loaded
    resized: list[str] = field(default_factory=list)   # pos_embed_z/x of another crop size, resized to this one

    def summary(self) -> str:
        """'N missing (first keys), ...': what was not loaded, named, for the training log."""
        def named(keys: list[str]) -> str:
            return f" ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})" if keys else ""

        text = ", ".join(f"{len(keys)} {name}{named(keys)}" for name, keys in (
            ("missing", self.missing), ("dropped", self.dropped), ("unexpected", self.unexpected))) + " keys"
        return text + "".join(f"; {what}{named(keys)}" for what, keys in (
            (f"{len(self.wrong_shape)} not loaded, of another shape", self.wrong_shape),
            ("resized to this crop size", self.resized)) if keys)


def check_checkpoint_path(path: str | Path) -> None:
    """An existing checkpoint file (a folder or a missing path -> one-line CheckpointError); nothing is read. A
    missing path written with Windows' '\\' between folders gets the '/' form, as other missing inputs do."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint '{path}' is a folder; pass the checkpoint file inside it (.pt / .pth.tar / .safetensors)")
    check_regular("checkpoint", path, CheckpointError)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' not found; pass an existing file (or omit it for the default model)"
                              f"{windows_note(path)}")
    check_readable("checkpoint", path)


def read_file(path: str | Path, trust: bool = False, lazy: bool = False) -> dict:
    """Load a .pth/.pth.tar/.pt/.safetensors file as a dict, with one-line errors for missing/corrupt/unsafe files.

    `trust=True` (`--trust-checkpoint`) reads the foreign objects of a legacy pickle as inert records (no code runs).
    `lazy=True`: the tensors' values are not read (a zip pickle's mapped from the file, a .safetensors file's shapes
    only, on the meta device): for what the file says of itself (`tracking_meta`), not for weights.
    """
    path = Path(path)
    check_checkpoint_path(path)
    if artifact_format(path) != "torch":   # e.g. dt train --pretrained model.onnx
        raise CheckpointError(f"'{path}' is {'an ONNX graph' if path.suffix.lower() == '.onnx' else 'a TensorRT engine'}"
                              ", not a checkpoint; pass the PyTorch checkpoint (.pt / .pth.tar / .safetensors) it "
                              "was exported from")
    problem = content_problem(path)   # an ONNX graph or a text file named .pt: say so, not 'UnpicklingError'
    if problem:
        raise CheckpointError(f"checkpoint {problem}")
    if path.suffix.lower() == ".safetensors":   # tensors only: nothing in it can run code
        return _read_safetensors(path, lazy)
    problem = archive_problem(path, crc=not lazy)   # a lazy read (its metadata) reads no weight: the load checks them
    if problem:
        raise CheckpointError(f"checkpoint '{path}' {problem}")
    try:
        obj = load_pickle(path, trust, lazy)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001
        note = unreadable_note(path)
        raise CheckpointError(f"checkpoint '{path}' {note}" if note else f"checkpoint '{path}' is corrupt or not a "
                              f"PyTorch file ({exc.__class__.__name__}); re-download it or point to the right "
                              "file") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint '{path}' holds a {type(obj).__name__}, not a dict of weights")
    if obj.get("format") == FORMAT:
        check_format_version(obj.get("format_version"), path)
    problem = tensor_problem(obj)   # before the NaN check or anything else touches the elements
    if problem:
        raise CheckpointError(f"checkpoint '{path}': {problem}; it is damaged or hostile: re-download it or point "
                              "to the right file")
    return obj


class NewerFormatError(CheckpointError):
    """A droptrack file written by a newer droptrack: intact, to be read by that version, never written over."""


def check_format_version(version: object, path: str | Path) -> None:
    """Refuse a droptrack file written by a newer droptrack (format_version > FORMAT_VERSION); none means version 1."""
    if version is None or version == "":   # files from before the field existed: the oldest format
        return
    try:
        number = int(str(version).strip())
    except ValueError:
        raise CheckpointError(f"checkpoint '{path}' has an unreadable format_version {str(version)[:40]!r}; "
                              "re-download it or export it again") from None
    if number > FORMAT_VERSION:
        raise NewerFormatError(f"checkpoint '{path}' has format_version {number}, newer than this droptrack reads "
                              f"(up to {FORMAT_VERSION}); upgrade droptrack (pip install -U droptrack) or re-export "
                              "it with this version")


def _read_safetensors(path: Path, lazy: bool = False) -> dict:
    """Tensors of a .safetensors file; with droptrack's metadata (`save_safetensors`: str -> str, the config as JSON,
    parsed as data) a checkpoint dict like ours, so it needs no --config."""
    try:
        from safetensors import safe_open
    except ImportError:
        raise CheckpointError("reading .safetensors needs the 'safetensors' package; pip install safetensors") from None
    if header_problem(path):
        raise CheckpointError(f"checkpoint '{path}' {header_problem(path)}; re-download it or point to the right file")
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: torch.empty(f.get_slice(k).get_shape(), device="meta") if lazy else f.get_tensor(k)
                       for k in f.keys()}
            meta = f.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - any parse failure is a corrupt file for the user
        raise CheckpointError(f"checkpoint '{path}' is corrupt ({exc.__class__.__name__}); re-download or re-export "
                              "it") from None
    if meta.get("format") != FORMAT:   # weights only (e.g. from a model hub): the config comes from --config
        return tensors
    check_format_version(meta.get("format_version"), path)
    try:
        config, info = json.loads(meta["config"]), json.loads(meta["meta"])
        if not isinstance(config, dict) or not isinstance(info, dict):
            raise ValueError("not a JSON object")
    except (KeyError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint '{path}': its droptrack metadata is damaged ({exc.__class__.__name__}: "
                              f"{exc}); re-download it or export it again (dt export CKPT --safetensors)") from None
    return {"format": FORMAT, "config_name": meta.get("config_name", ""), "config": config, "meta": info,
            "variant": meta.get("variant", ""), "net": tensors}


def write_safetensors(path: str | Path, model: OSTrack, cfg: Config, checkpoint_sha256: str = "") -> None:
    """The model's fp32 weights as .safetensors (tensors only), with its config and ArtifactMeta as JSON strings in
    the file's str -> str metadata, so that it loads without --config; written in place (a work file, or through
    `save_safetensors`). `checkpoint_sha256`: the checkpoint it was converted from (dt export), in the ArtifactMeta
    as an ONNX graph's, so dt bench knows it for the same model as the graphs exported with it."""
    from safetensors.torch import save_file

    state = {k: v.detach().float().cpu().contiguous().clone() if v.is_floating_point() else v.detach().cpu().clone()
             for k, v in model.state_dict().items()}
    meta = meta_from_config(cfg, arch=model.variant, checkpoint_sha256=checkpoint_sha256)
    info = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "config_name": cfg.NAME,
            "variant": model.variant, "config": json.dumps(config_to_dict(cfg)), "meta": json.dumps(meta.to_dict())}
    save_file(state, str(path), metadata=info)
    if os.path.isfile(path):   # safetensors makes it 0600; models are ordinary shared files (as atomic_write's), and
        os.chmod(path, 0o644)  # a device written in place (/dev/null) keeps its mode


def save_safetensors(path: str | Path, model: OSTrack, cfg: Config) -> Path:
    """`write_safetensors`, written atomically at `path`."""
    return atomic_write(path, lambda p: write_safetensors(p, model, cfg))


def check_finite(state: dict, path: str | Path) -> None:
    """Refuse weights with NaN or Inf (a diverged or damaged model tracks nothing yet would exit 0)."""
    for k, v in state.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all()):
            bad = int((~torch.isfinite(v)).sum())
            raise CheckpointError(f"checkpoint '{path}': tensor '{k[:80]}' has {bad} NaN/Inf value(s); the model is "
                                  "broken (diverged training or a damaged file) - use an earlier checkpoint")


def check_dtypes(own: dict, state: dict, path: str | Path) -> None:
    """Refuse an integer or boolean tensor where the model holds floating-point weights: loading casts it without a
    word (a weight of 0.02s stored as int32 loads as zeros), and parity is then measured against the broken model."""
    for k, v in own.items():
        got = state.get(k)
        if v.is_floating_point() and isinstance(got, torch.Tensor) and not got.is_floating_point():
            raise CheckpointError(f"checkpoint '{path}': tensor '{k}' is {str(got.dtype).removeprefix('torch.')}, "
                                  "where the model has floating-point weights (a damaged or hand-edited file); "
                                  "re-export it from the training checkpoint, or use an earlier one")


def detect_variant(state: dict) -> str:
    """'droptrack' if a frame-identity embedding is present (either: a file lacking one is then named as such), else
    'ostrack'."""
    return "droptrack" if {"backbone.temporal_pos_embed_x", "backbone.temporal_pos_embed_z"} & set(state) else "ostrack"


def guess_config_name(state: dict) -> str:
    """Official config matching a `net` state dict's search grid (CE cannot be seen in weights; CE is assumed)."""
    shape = tuple(state.get("backbone.pos_embed_x", torch.empty(0)).shape)
    by_tokens = {576: "vitb_384_mae_ce_32x4_ep300", 256: "vitb_256_mae_ce_32x4_ep300"}
    if len(shape) != 3 or shape[1] not in by_tokens or shape[2] != 768:
        raise CheckpointError(f"cannot infer the config of this checkpoint (pos_embed_x {shape}): it holds weights "
                              "without their config (a .safetensors file, or an official one of another size); pass "
                              "the config it was trained with: --config NAME (a shipped config) or --config FILE.yaml")
    return by_tokens[shape[1]]


def _mismatch_message(model: OSTrack, state: dict, cfg: Config) -> str:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    keys = disagreeing_keys(state, cfg)
    cause = "it was trained with another config"
    if keys:
        cause = "; ".join(keys)
        if weight_facts(state).get("width") == 768 and any(k.startswith("DATA.SEARCH.SIZE") for k in keys):
            cause += " - pick the matching 256/384 config"
    shown = [k[:80] for k in unexpected[:3]]   # names from the file: a key may be megabytes long
    parts = [f"missing {missing[:3]}" if missing else "", f"unexpected {shown}" if unexpected else "",
             f"shape mismatch {wrong[:2]}" if wrong else ""]
    detail = "; ".join(p for p in parts if p)
    head = (f"checkpoint does not fit config '{cfg.NAME}': {detail} ({len(missing)} missing, {len(unexpected)} "
            f"unexpected, {len(wrong)} wrong shapes)")
    if not keys and not wrong:   # names alone, which no config explains: '--config' sent users after the wrong fix
        return (f"{head}; every weight that is there fits this config, so the file lacks weights or holds another "
                "model's (cut short, damaged or edited); re-download or re-export it")
    return f"{head}; {'it disagrees: ' if keys else 'likely cause: '}{cause}; pass the right --config"


def tracking_config(obj: dict, path: str | Path,
                    config: str | Path | Config | None = None) -> tuple[Config, dict, bool]:
    """The config a tracking checkpoint's contents `obj` (`read_file`) build a tracker with (its own, `config` over
    it; an official file's inferred from its weights' shapes unless `config` is given), its `net` state, and whether
    the config was inferred. Reads no tensor's values (`tracking_meta` runs it on a file's lazily read tensors)."""
    inferred = config is None and obj.get("format") != FORMAT   # an official file: its config is guessed
    if obj.get("format") == FORMAT:
        check_layout(obj, path)
        try:
            cfg = config_from_dict(obj["config"], name=obj.get("config_name", ""))
        except ConfigError as exc:
            raise CheckpointError(f"checkpoint '{path}' carries a config that cannot be used ({exc})") from None
        if config is not None:
            cfg = config if isinstance(config, Config) else load_config(config, model=cfg)
        state = obj["net"]
    else:
        state = net_state(obj)
        if not isinstance(state, dict) or not any(str(k).startswith("backbone.") for k in state):
            raise CheckpointError(f"'{path}' is not a tracking checkpoint (no 'net' with backbone.* keys); "
                                  "for MAE/DropMAE weights use `dt train --pretrained`")
        check_named(state, path)   # before guess_config_name reads a shape
        if inferred:
            config = guess_config_name(state)
        cfg = config if isinstance(config, Config) else load_config(config)
    return cfg, state, inferred


def load_tracking_checkpoint(path: str | Path, config: str | Path | Config | None = None,
                             trust: bool = False) -> tuple[OSTrack, Config]:
    """Build and strictly load a tracker from an official `.pth.tar` (`net` key) or a droptrack checkpoint."""
    obj = read_file(path, trust)
    cfg, state, inferred = tracking_config(obj, path, config)
    check_named(state, path)
    check_finite(state, path)
    variant = detect_variant(state)
    check_buildable(state, cfg)   # before the model is allocated at the config's size
    model = build_model(cfg, variant=variant)
    check_dtypes(model.state_dict(), state, path)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:
        raise CheckpointError(_mismatch_message(model, state, cfg)) from None
    cfg.MODEL.VARIANT = variant
    if inferred:   # after the load: a refused file's error stays one line
        logging.getLogger("droptrack").warning(
            "note: '%s' holds no config; inferred %s from its weights, assuming candidate elimination (CE), which "
            "leaves no trace in them; for a checkpoint trained without CE pass --config %s", printable(path),
            cfg.NAME, cfg.NAME.replace("_ce_", "_"))
    return model.eval(), cfg


def load_tracking_init(model: OSTrack, net: dict, path: str | Path) -> LoadReport:
    """A whole tracking checkpoint as initialisation (official PRETRAIN_FILE 'OSTrack*': `net`, strict=False)."""
    check_named(net, path)
    own = model.state_dict()
    check_dtypes(own, net, path)
    fits = {k: v.float() if v.is_floating_point() else v for k, v in net.items()
            if k in own and tuple(v.shape) == tuple(own[k].shape)}
    resized = fit_pos_embeds(net, own)
    fits.update(resized)
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in net.items()
             if k in own and k not in fits]
    check_finite(fits, path)
    if not any(k.startswith("backbone.blocks.") for k in fits):
        example = f"; e.g. {wrong[0]} in this config" if wrong else ""
        raise CheckpointError(f"tracking checkpoint '{path}' does not fit this config (no matching backbone "
                              f"weights: {len(wrong)} of its tensors have another shape{example}); pass the config it "
                              "was trained with (another width or depth), a checkpoint of this architecture, or "
                              "MAE/DropMAE weights")
    model.load_state_dict(fits, strict=False)
    return LoadReport(missing=[k for k in own if k not in fits], unexpected=[k for k in net if k not in own],
                      wrong_shape=wrong, resized=list(resized))


def load_pretrained(model: OSTrack, path: str | Path, trust: bool = False) -> LoadReport:
    """Load MAE / DropMAE / timm ViT weights into the backbone (then derive pos_embed_z/x, official order), or a
    whole tracking checkpoint (`net`) into the network, as the official PRETRAIN_FILE 'OSTrack*' does. `trust`: as
    read_file's (dt train --trust-checkpoint)."""
    obj = read_file(path, trust)
    if "net" in obj and isinstance(obj["net"], dict):
        return load_tracking_init(model, net_state(obj), path)
    state = obj.get("model", obj.get("state_dict", obj))
    state = {k: v for k, v in (state.items() if isinstance(state, dict) else ())
             if isinstance(k, str) and isinstance(v, torch.Tensor)}
    state = without_ddp_prefix(state)   # saved from the DistributedDataParallel wrapper
    state = {k[len("backbone."):] if k.startswith("backbone.") else k: v for k, v in state.items()}
    if "patch_embed.proj.weight" not in state or "blocks.0.attn.qkv.weight" not in state:
        raise CheckpointError(f"'{path}' is not a ViT checkpoint (no patch_embed.proj / blocks.*.attn.qkv weights); "
                              "pass MAE, DropMAE or timm ViT weights")
    bb = model.backbone
    pw = state["patch_embed.proj.weight"]
    if pw.shape[0] != bb.embed_dim or pw.shape[-1] != bb.patch_size:
        keys = [f"width {pw.shape[0]}, the config's MODEL.BACKBONE.TYPE / EMBED_DIM give {bb.embed_dim}"
                if pw.shape[0] != bb.embed_dim else "",
                f"patch {pw.shape[-1]}, the config's MODEL.BACKBONE.STRIDE is {bb.patch_size}"
                if pw.shape[-1] != bb.patch_size else ""]
        raise CheckpointError(f"pretrained ViT '{path}' has {'; '.join(k for k in keys if k)}; pick a config matching "
                              "the weights (crop sizes must be multiples of the patch)")
    report = LoadReport()
    keep = {}
    for k, v in state.items():
        if "decoder" in k or k in ("mask_token",) or k.startswith(("head.", "fc_norm.")):
            report.dropped.append(k)
        elif k.startswith("temporal_pos_embed") and not bb.temporal_embed:
            report.dropped.append(k)
        else:
            keep[k] = v
    pos = keep.pop("pos_embed", None)
    grid = None if pos is None else pos_embed_grid(pos, bb.embed_dim, path)   # checked before any weight is loaded
    own = bb.state_dict()
    report.unexpected = [k for k in keep if k not in own or own[k].shape != keep[k].shape]
    loadable = {k: v.float() for k, v in keep.items() if k not in report.unexpected}
    check_finite({**loadable, **({} if pos is None else {"pos_embed": pos})}, path)
    bb.load_state_dict(loadable, strict=False)
    with torch.no_grad():
        if pos is not None:
            if bb.pos_embed.shape == pos.shape:
                bb.pos_embed.copy_(pos)
            bb.pos_embed_z.copy_(resize_pos_embed(grid.float(), bb.grid_z))
            bb.pos_embed_x.copy_(resize_pos_embed(grid.float(), bb.grid_x))
    skip = {"pos_embed_z", "pos_embed_x", "pos_embed"}
    report.missing = [k for k in own if k not in loadable and k not in skip]
    return report


def save_checkpoint(path: str | Path, model: OSTrack, cfg: Config, extra: dict[str, Any] | None = None,
                    half: bool = False) -> Path:
    """Write a droptrack checkpoint (plain data; optional fp16 weights) atomically."""
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in model.state_dict().items()}
    meta: ArtifactMeta = meta_from_config(cfg, arch=model.variant)
    obj = {"format": FORMAT, "format_version": FORMAT_VERSION, "config_name": cfg.NAME,
           "config": config_to_dict(cfg), "variant": model.variant, "net": state, "meta": meta.to_dict()}
    obj.update(extra or {})
    return atomic_torch_save(path, obj)


def read_meta(path: str | Path) -> ArtifactMeta:
    """ArtifactMeta of a checkpoint (ours carries it; official ones get it from the inferred config)."""
    obj = read_file(path)
    if obj.get("format") == FORMAT:
        try:
            return ArtifactMeta.from_dict(obj.get("meta"))
        except MetadataError as exc:
            raise CheckpointError(f"checkpoint '{path}' {exc}") from None
    state = net_state(obj)
    return meta_from_config(load_config(guess_config_name(state)), arch=detect_variant(state))


def tracking_meta(path: str | Path, config: str | Path | None = None, trust: bool = False) -> ArtifactMeta:
    """ArtifactMeta of a checkpoint as `load_tracking_checkpoint` builds its tracker (its config, `config` over it;
    an official one's inferred), without reading its weights (`read_file(lazy=True)`): sizes, factors, TEST keys."""
    cfg, state, _ = tracking_config(read_file(path, trust, lazy=True), path, config)
    return meta_from_config(cfg, arch=detect_variant(state))
