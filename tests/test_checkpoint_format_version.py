"""A droptrack file records `format_version`, which nothing read: a file from a newer droptrack (a layout this one
does not know) loaded as if it were current. It is now refused in one line naming the version and the fix; a file
without the field (written before it existed) is the oldest version and loads; current files load as before."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import droptrack
from droptrack.errors import CheckpointError
from droptrack.model.checkpoint import read_file
from helpers import cli

EMBEDDED = Path(droptrack.__file__).parent / "weights" / "droptrack_tiny_synth.pt"


def rewritten(tmp_path: Path, **changes) -> Path:
    """The embedded model's checkpoint with top-level keys changed (None: removed)."""
    obj = torch.load(EMBEDDED, map_location="cpu", weights_only=True)
    for k, v in changes.items():
        obj.pop(k, None) if v is None else obj.__setitem__(k, v)
    path = tmp_path / "model.pt"
    torch.save(obj, path)
    return path


def test_the_embedded_model_is_format_version_1():
    assert torch.load(EMBEDDED, map_location="cpu", weights_only=True)["format_version"] == 1


def test_a_newer_format_version_is_refused_in_one_line(tmp_path):
    path = rewritten(tmp_path, format_version=2)
    r = cli("doctor", path)
    assert r.exit_code == 2 and r.stdout == "", r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "format_version 2" in lines[0] and "upgrade droptrack" in lines[0] and "model.pt" in lines[0], lines[0]


@pytest.mark.parametrize("version", [None, 1, "1"])
def test_a_missing_or_current_format_version_loads(tmp_path, version):
    obj = read_file(rewritten(tmp_path, format_version=version))
    assert obj["format"] == "droptrack" and "net" in obj


def test_a_newer_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file
    path = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "droptrack", "format_version": "7",
                                                           "config": "{}", "meta": "{}"})
    with pytest.raises(CheckpointError, match="format_version 7, newer than this droptrack"):
        read_file(path)


def test_dt_train_resume_refuses_a_newer_last_pt_instead_of_writing_over_it(tmp_path, synth):
    """A last.pt of a newer droptrack was skipped as unreadable ('falling back to checkpoint_ep0001.pt') and then
    written over by this run: the newer run's progress lost. Now --resume stops on it, the file untouched."""
    out = tmp_path / "run"
    args = ["train", "-c", "tiny_ce_test", "--data", synth, "--batch-size", "2", "--samples-per-epoch", "4",
            "--workers", "0", "--device", "cpu", "--threads", "1", "-o", out]
    assert cli(*args, "--epochs", "1").exit_code == 0
    (out / "final.pt").unlink()
    obj = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    obj["format_version"] = 2
    torch.save(obj, out / "last.pt")
    before = (out / "last.pt").read_bytes()
    r = cli(*args, "--epochs", "2", "--resume")
    assert r.exit_code == 2, r.output
    assert "format_version 2" in r.stderr and "upgrade droptrack" in r.stderr and "falling back" not in r.output
    assert (out / "last.pt").read_bytes() == before and not (out / "final.pt").exists()

