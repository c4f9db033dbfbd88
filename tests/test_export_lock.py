"""`dt export` on a file system without working locks exports and leaves no lock file (the lock itself, shared
with dt train: tests/test_folder_locks.py)."""

from __future__ import annotations

from droptrack.export.workdir import LOCK
from locktools import dt_without_locks


def test_dt_export_on_a_file_system_without_locks_exports_and_leaves_no_lock_file(tiny_ckpt, tmp_path):
    out = tmp_path / "deploy"
    p = dt_without_locks("EOPNOTSUPP", "export", tiny_ckpt, "--output", out)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (out / "model.onnx").is_file() and not (out / LOCK).exists()
