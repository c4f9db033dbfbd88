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
