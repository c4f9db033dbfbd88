"""The benchmarks' --tracker-keys option (precision_targets.py, bench_classic.py): the JSON TEST keys checked, and
the checkpoint re-saved with them (same weights, reused so caches keyed on its hash resume)."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path


def tracker_keys(ap: argparse.ArgumentParser, text: str) -> dict:
    """--tracker-keys JSON -> checked TEST keys; a bad value exits 2 with one line (argparse)."""
    from droptrack.errors import ConfigError
    from droptrack.runtime.extensions import check_keys

    try:
        keys = json.loads(text)
        if not isinstance(keys, dict):
            raise ConfigError("give a JSON object of TEST keys, e.g. '{\"CROP_GRID\": 0.1}'")
        check_keys(keys)
    except (json.JSONDecodeError, ConfigError) as e:
        ap.error(f"--tracker-keys: {e}")
    return keys


def with_tracker_keys(ckpt: Path, keys: dict, work: Path) -> Path:
    """`ckpt` re-saved under `work` with `keys` set in its TEST section (weights and training record unchanged)."""
    import torch

    from droptrack.artifact import sha256_file
    from droptrack.model.checkpoint import load_tracking_checkpoint, save_checkpoint

    tag = hashlib.sha256(f"{sha256_file(ckpt)}{json.dumps(keys, sort_keys=True)}".encode()).hexdigest()[:12]
    out = work / f"{ckpt.stem}_{tag}.pt"
    if out.is_file():        # made by an earlier run: the caches keyed on its hash resume
        return out
    model, cfg = load_tracking_checkpoint(ckpt)
    for k, v in keys.items():
        setattr(cfg.TEST, k, v)
    extra = torch.load(ckpt, map_location="cpu", weights_only=True).get("training")
    work.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, model, cfg, extra={"training": extra} if extra is not None else None)
    return out
