"""A checkpoint torch.load cannot read, in the two forms a user downloading an official `.pth.tar` meets: a
half-finished download (a zip cut before its central directory) and a real tar archive made around the checkpoint.
Each is one line naming what the file is and the fix (it was 'corrupt or not a PyTorch file (RuntimeError);
re-download it' for both, the wrong fix for the tar)."""

from __future__ import annotations

import tarfile

import pytest
import torch
from helpers import cli, one_line_error

from droptrack.errors import CheckpointError
from droptrack.model.checkpoint import read_file


@pytest.fixture
def whole(tmp_path):
    path = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save({"net": {"backbone.pos_embed_x": torch.zeros(1, 64, 8)}, "epoch": 300}, path)
    return path


def test_a_zip_cut_in_half_is_named_an_interrupted_download(whole, tmp_path):
    data = whole.read_bytes()
    half = tmp_path / "half.pth.tar"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as exc:
        read_file(half)
    assert f"is cut short ({len(data) // 2} bytes" in str(exc.value) and "download it again" in str(exc.value)


def test_a_tar_around_the_checkpoint_says_to_extract_it(whole, tmp_path):
    packed = tmp_path / "packed.pth.tar"
    with tarfile.open(packed, "w") as tf:
        tf.add(whole, arcname="OSTrack_ep0300.pth.tar")
    line = one_line_error(cli("doctor", packed))
    assert "is a tar archive (holding 'OSTrack_ep0300.pth.tar')" in line and "tar xf" in line, line


def test_a_file_of_other_bytes_is_still_corrupt(tmp_path):
    other = tmp_path / "other.pth"
    other.write_bytes(b"\x80\x04" + b"\x00" * 64)   # a pickle's first bytes, then nothing torch can read
    with pytest.raises(CheckpointError, match="is corrupt or not a PyTorch file"):
        read_file(other)
