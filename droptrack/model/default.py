"""The embedded default model shipped inside the package (trained on the synthetic real-photo benchmark)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from droptrack.errors import CheckpointError

DEFAULT_CHECKPOINT = "droptrack_tiny_synth.pt"


def _weights_file(name: str) -> Path:
    """Path of a file shipped in droptrack/weights (it may be missing from a broken install)."""
    return Path(str(resources.files("droptrack") / "weights" / name))


def default_checkpoint() -> Path:
    """Path of the embedded default checkpoint."""
    path = _weights_file(DEFAULT_CHECKPOINT)
    if not path.is_file():
        raise CheckpointError(f"the embedded default model ({path.name}) is missing from this install; "
                              "reinstall droptrack or pass --checkpoint")
    return path


DEFAULT_ORT = "droptrack_tiny_synth_ort.onnx"   # `dt export --ort` of the shipped checkpoint: the CPU's fast form


def embedded_ort_file() -> Path | None:
    """The embedded model's ONNX Runtime graph (model_ort.onnx of the shipped checkpoint), or None where the install
    lacks it."""
    path = _weights_file(DEFAULT_ORT)
    return path if path.is_file() else None


def embedded_hint(path: str | Path) -> str:
    """'; the embedded model's file is ...' for a missing path that names it (README's
    `--pretrained droptrack/weights/droptrack_tiny_synth.pt`, a path of the source tree, given from another folder
    or an install without that tree), else ''."""
    if Path(path).name != DEFAULT_CHECKPOINT:
        return ""
    here = _weights_file(DEFAULT_CHECKPOINT)
    return f"; the embedded model's file is '{here}'" if here.is_file() else ""


DEFAULT_INT8 = "droptrack_tiny_synth.int8.json"   # the precision search's kept groups for the embedded model


def _int8_record() -> dict | None:
    """The embedded model's INT8 kept-set record, or None where the install lacks it."""
    import json

    path = _weights_file(DEFAULT_INT8)
    return json.loads(path.read_text()) if path.is_file() else None


def searched_int8_kept(sha256: str, target: str, crop_grid: float | None = None) -> tuple[tuple[str, ...], str] | None:
    """(groups kept in high precision, where the search that chose them is recorded) for the embedded model's
    `target` INT8 graph, so `dt export --int8` of it writes the searched graph; a graph whose tracker runs the crop
    grid the record has a kept set for (`crop_grid`, its config's TEST.CROP_GRID) gets that set, measured with it;
    None for any other checkpoint (`sha256`: the checkpoint file's, or `int8_record_sha`'s for its weights)."""
    rec = _int8_record()
    if rec is None or rec.get("checkpoint_sha256") != sha256:
        return None
    grid = rec.get("crop_grid", {})
    entry = grid if crop_grid is not None and crop_grid == grid.get("value") and target in grid.get("kept", {}) else rec
    if target not in entry.get("kept", {}):
        return None
    return tuple(entry["kept"][target]), entry.get("recorded_in_" + target, entry["recorded_in"])


def int8_record_sha(sha256: str, model) -> str:
    """The sha256 to look the INT8 kept-set record up by, once per export: the record's own where `model` holds the
    embedded weights in another file (its `dt export --safetensors` file, a re-save: every group was quantized, and
    its INT8 graphs failed the accuracy gate), else `sha256`."""
    rec = _int8_record()
    own = rec.get("checkpoint_sha256") if rec is not None else None
    return own if own is not None and own != sha256 and embedded_weights(model) else sha256


def embedded_weights(model) -> bool:
    """Whether `model` (an OSTrack) holds the embedded default model's weights, tensor for tensor."""
    import torch

    from droptrack.model.checkpoint import load_tracking_checkpoint

    path = _weights_file(DEFAULT_CHECKPOINT)
    if not path.is_file():
        return False
    ref = load_tracking_checkpoint(path, None)[0].state_dict()
    own = model.state_dict()
    return own.keys() == ref.keys() and all(own[k].shape == ref[k].shape and torch.equal(own[k].detach().cpu().to(
        ref[k].dtype), ref[k]) for k in ref)
