"""The embedded default model shipped inside the package (trained on the synthetic real-photo benchmark)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from droptrack.errors import CheckpointError

DEFAULT_CHECKPOINT = "droptrack_tiny_synth.pt"


def default_checkpoint() -> Path:
    """Path of the embedded default checkpoint."""
    path = Path(str(resources.files("droptrack") / "weights" / DEFAULT_CHECKPOINT))
    if not path.is_file():
        raise CheckpointError(f"the embedded default model ({path.name}) is missing from this install; "
                              "reinstall droptrack or pass --checkpoint")
    return path


def embedded_hint(path: str | Path) -> str:
    """'; the embedded model's file is ...' for a missing path that names it (README's
    `--pretrained droptrack/weights/droptrack_tiny_synth.pt`, a path of the source tree, given from another folder
    or an install without that tree), else ''."""
    if Path(path).name != DEFAULT_CHECKPOINT:
        return ""
    here = Path(str(resources.files("droptrack") / "weights" / DEFAULT_CHECKPOINT))
    return f"; the embedded model's file is '{here}'" if here.is_file() else ""
