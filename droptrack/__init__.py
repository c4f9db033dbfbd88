"""droptrack: DropTrack / OSTrack from fine-tuning to verified deployment.

The Python API (README "In your own Python code") is importable from here: `from droptrack import load_tracker`.
Its names are loaded on first use (PEP 562), so `import droptrack` imports neither torch nor NumPy; the modules that
define them (`droptrack.runtime.tracker`, ...) stay importable as before.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:   # type checkers see the real names (their __getattr__ is typed `object`); never run
    from droptrack.errors import DropTrackError, InputError
    from droptrack.runtime.device_tracker import DeviceTracker
    from droptrack.runtime.run import build_tracker
    from droptrack.runtime.track_result import TrackResult
    from droptrack.runtime.tracker import Tracker, load_tracker

# name -> the module that defines it
_LAZY: dict[str, str] = {
    "load_tracker": "droptrack.runtime.tracker",
    "Tracker": "droptrack.runtime.tracker",
    "TrackResult": "droptrack.runtime.track_result",
    "DeviceTracker": "droptrack.runtime.device_tracker",
    "build_tracker": "droptrack.runtime.run",
    "DropTrackError": "droptrack.errors",
    "InputError": "droptrack.errors",
}

# literal, so type checkers (mypy --strict) and pyflakes read the re-exports above
__all__ = ["load_tracker", "Tracker", "TrackResult", "DeviceTracker", "build_tracker", "DropTrackError", "InputError"]


def __getattr__(name: str) -> object:
    """Load a name of the Python API from its module on first use (and keep it here)."""
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'droptrack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names plus the lazily loaded API (for completion and dir())."""
    return sorted(set(globals()) | set(__all__))
