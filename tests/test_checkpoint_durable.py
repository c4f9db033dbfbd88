"""A checkpoint is on disk before its name is: the temporary file is synced before the rename onto last.pt, and the
folder after it, so a power loss or kernel crash never leaves a checkpoint's name over data that was not written."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from droptrack.config import load_config
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names open files from /proc/self/fd")


def test_the_file_is_synced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append(("replace", f"{src} -> {dst}"))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    cfg = load_config("tiny_ce_test")
    path = tmp_path / "last.pt"
    save_checkpoint(path, build_model(cfg), cfg, {"epoch": 1})
    (rename,) = [e for e in events if e[0] == "replace"]
    tmp = rename[1].split(" -> ")[0]
    assert rename[1] == f"{tmp} -> {path}" and Path(tmp).parent == tmp_path
    assert events == [("fsync", tmp), rename, ("fsync", str(tmp_path))], events
    assert torch.load(path, weights_only=True)["epoch"] == 1
