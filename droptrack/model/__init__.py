"""Network, named variants and checkpoints; torch is imported on first use of OSTrack or build_model, so that
torch-free submodules (the default model's path) import without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from droptrack.model.ostrack import OSTrack, build_model

__all__ = ["OSTrack", "build_model"]


def __getattr__(name: str) -> Any:
    """OSTrack and build_model from droptrack.model.ostrack, imported when first asked for."""
    if name in __all__:
        from droptrack.model import ostrack

        return getattr(ostrack, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
