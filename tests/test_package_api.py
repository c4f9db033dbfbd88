"""`from droptrack import load_tracker` (and the README's other names) works, `import droptrack` stays light (no torch,
no NumPy, no runtime module until a name is used), and the old import paths give the same objects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import droptrack
from droptrack.errors import DropTrackError, InputError
from droptrack.runtime.device_tracker import DeviceTracker
from droptrack.runtime.run import build_tracker
from droptrack.runtime.tracker import TrackResult, Tracker, load_tracker

ROOT = Path(__file__).resolve().parents[1]
OLD_PATHS = {"load_tracker": load_tracker, "Tracker": Tracker, "TrackResult": TrackResult,
             "DeviceTracker": DeviceTracker, "build_tracker": build_tracker, "DropTrackError": DropTrackError,
             "InputError": InputError}


def fresh(code: str) -> str:
    """stdout of `code` in a new interpreter with this checkout importable (this process has torch loaded)."""
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_import_droptrack_loads_no_torch_and_no_runtime():
    code = ("import sys, droptrack; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'numpy', 'cv2', 'onnxruntime', 'tensorrt') or m.startswith('droptrack.')))")
    assert fresh(code) == "[]"


def test_a_name_is_loaded_on_first_use_and_kept():
    code = ("import sys, droptrack; f = droptrack.load_tracker; import droptrack.runtime.tracker as t; "
            "print(f is t.load_tracker, 'load_tracker' in vars(droptrack), 'droptrack.runtime.device_tracker' in "
            "sys.modules)")
    assert fresh(code) == "True True False"   # only the module that defines it is loaded


def test_the_readme_names_import_from_the_package_as_the_same_objects():
    from droptrack import (DeviceTracker as D, DropTrackError as E, InputError as I, TrackResult as R, Tracker as T,
                           build_tracker as b, load_tracker as f)

    assert (f, T, R, D, b, E, I) == tuple(OLD_PATHS.values())
    assert sorted(droptrack.__all__) == sorted(OLD_PATHS)
    assert all(getattr(droptrack, name) is obj for name, obj in OLD_PATHS.items())


def test_dir_lists_the_api_and_unknown_names_are_attribute_errors():
    assert set(OLD_PATHS) | {"__version__"} <= set(dir(droptrack))
    with pytest.raises(AttributeError, match="module 'droptrack' has no attribute 'load_trackr'"):
        droptrack.load_trackr
    with pytest.raises(ImportError, match="load_trackr"):
        from droptrack import load_trackr  # noqa: F401
    # a subpackage not yet loaded is still found (__getattr__'s AttributeError lets the import system load it)
    assert fresh("from droptrack import serve; print(serve.__name__)") == "droptrack.serve"
