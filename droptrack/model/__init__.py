"""Network, named variants and checkpoints."""

from droptrack.model.ostrack import OSTrack, build_model

__all__ = ["OSTrack", "build_model"]
