"""The benchmarks' --model / --tracker-keys options (precision_targets.py, bench_classic.py, fp16_islands.py,
int8_error_sources.py, int8_qad.py): the JSON TEST keys checked, and the checkpoint re-saved with them (same
weights, reused so caches keyed on its hash resume); and their report.json / table.md writer."""

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


def add_model_options(ap: argparse.ArgumentParser) -> None:
    """--model CKPT and --tracker-keys JSON, as the export benchmarks take them."""
    ap.add_argument("--model", default=None, help="Checkpoint (default: the embedded default model).")
    ap.add_argument("--tracker-keys", default=None, help="JSON TEST keys set on the checkpoint before export.")


def parsed_keys(ap: argparse.ArgumentParser, a: argparse.Namespace) -> dict | None:
    """The checked --tracker-keys of parsed arguments (None when not given)."""
    return tracker_keys(ap, a.tracker_keys) if a.tracker_keys is not None else None


def keyed_checkpoint(a: argparse.Namespace) -> tuple[Path, Path]:
    """(checkpoint to export: --model or the embedded default, re-saved with a.keys when given; its cache folder
    a.work/<sha256[:12]>)."""
    from droptrack.export.onnx import checkpoint_hash
    from droptrack.model.default import default_checkpoint

    ckpt = Path(a.model) if a.model else default_checkpoint()
    if a.keys is not None:
        ckpt = with_tracker_keys(ckpt, a.keys, a.work)
    return ckpt, a.work / checkpoint_hash(ckpt)[:12]


def model_args(a: argparse.Namespace) -> str:
    """The --model / --tracker-keys part of a recorded command line."""
    return ((f" --model {a.model}" if a.model else "")
            + (f" --tracker-keys '{a.tracker_keys}'" if a.tracker_keys is not None else ""))


def write_report(out: Path, report: dict, markdown) -> None:
    """OUT/report.json and OUT/table.md (markdown(report)), written atomically; the table is printed too."""
    from droptrack.artifact import atomic_write_json, atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "report.json", report)
    text = markdown(report)
    atomic_write_text(out / "table.md", text)
    print(text)
