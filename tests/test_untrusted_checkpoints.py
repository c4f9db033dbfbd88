"""Checkpoints from someone else that would take far more memory than their size, or crash on a part that is not
what a state dict holds: deflated or overlapping zip entries, stride-0 views, non-tensor weights. Each is refused in
one line (exit 2) before the memory is taken; real checkpoints with shared storages still load."""

from __future__ import annotations

import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from droptrack.errors import CheckpointError
from droptrack.model.checkpoint import load_pretrained, read_file, read_meta
from droptrack.model.torch_files import SLACK, tensor_problem
from helpers import cli, one_line_error

INIT = "60,40,40,50"


def official_like(net: dict) -> dict:
    """The layout of an official OSTrack .pth.tar: `net` plus trainer records (as plain containers here)."""
    return {"net": net, "epoch": 300, "actor_type": "OSTrackActor", "net_type": "OSTrack",
            "settings": OrderedDict(env=OrderedDict(workspace_dir="/x"))}


def repacked(src: Path, dst: Path, compress: int) -> Path:
    """The same zip entries written again with `compress` (torch.save itself only stores)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(zipfile.ZipInfo(info.filename), zin.read(info.filename), compress_type=compress)
    return dst


def test_deflated_zeros_that_would_inflate_beyond_the_file_are_not_read(tmp_path):
    n = (SLACK + (8 << 20)) // 4   # float32 zeros: more than the slack once inflated, a few hundred KB deflated
    torch.save(official_like({"backbone.pos_embed_x": torch.zeros(n)}), tmp_path / "plain.pt")
    bomb = repacked(tmp_path / "plain.pt", tmp_path / "bomb.pth.tar", zipfile.ZIP_DEFLATED)
    (tmp_path / "plain.pt").unlink()
    assert bomb.stat().st_size < 4 << 20
    with pytest.raises(CheckpointError) as err:
        read_file(bomb)
    msg = str(err.value)
    assert "\n" not in msg and "bomb.pth.tar" in msg and "declares 72 MiB" in msg, msg


def test_small_deflated_entries_within_the_file_size_still_load(tmp_path):
    torch.save(official_like({"backbone.x": torch.arange(6.0)}), tmp_path / "plain.pt")
    path = repacked(tmp_path / "plain.pt", tmp_path / "small.pt", zipfile.ZIP_DEFLATED)
    assert torch.equal(read_file(path)["net"]["backbone.x"], torch.arange(6.0))


def expanded(rows: int, cols: int) -> torch.Tensor:
    """rows x cols float32 elements that are all one stored number (what torch.expand gives)."""
    return torch.zeros(1).as_strided((rows, cols), (0, 0))


def test_a_stride_zero_view_of_billions_of_elements_is_refused_before_use(tmp_path, video):
    net = {"backbone.pos_embed_x": torch.zeros(1, 576, 768),
           "backbone.blocks.0.attn.qkv.weight": expanded(10**6, 10**6)}
    path = tmp_path / "expand.pth.tar"
    torch.save(official_like(net), path)
    assert path.stat().st_size < 4 << 20
    line = one_line_error(cli("run", video, "-m", path, "--device", "cpu", "--init", INIT,
                              "--output", tmp_path / "b.txt"))
    assert "expand.pth.tar" in line and "'net.backbone.blocks.0.attn.qkv.weight'" in line and "1000000x1000000" in line
    assert not (tmp_path / "b.txt").exists()


def test_views_that_share_a_storage_without_repeating_it_are_fine():
    base = torch.arange(12.0)
    tied = {"a": base, "b": base.view(3, 4), "c": base[4:8], "d": base.view(4, 3).t(), "e": torch.empty(0, 5)}
    assert tensor_problem({"net": tied, "more": [tied, (tied,)]}) == ""
    assert "sparse" in tensor_problem({"net": {"w": torch.eye(3).to_sparse()}})


@pytest.mark.parametrize("net,named", [
    ({"backbone.pos_embed_x": "abc"}, "'backbone.pos_embed_x' is not a named tensor"),
    ({"backbone.pos_embed_x": torch.zeros(1, 576, 768), 7: torch.zeros(1)}, "'7' is not a named tensor")])
def test_official_layout_with_a_non_tensor_weight_is_one_line(tmp_path, video, net, named):
    path = tmp_path / "model.pth.tar"
    torch.save(official_like(net), path)
    line = one_line_error(cli("run", video, "-m", path, "--device", "cpu", "--init", INIT))
    assert named in line and "model.pth.tar" in line, line


@pytest.mark.parametrize("obj", [{"model": [1, 2]}, {"model": {3: torch.zeros(1), "x": 1}},
                                 {"net": {"backbone.blocks.0.x": "abc"}}])
def test_pretrained_weights_of_another_layout_are_one_line(tmp_path, obj):
    from droptrack.config import load_config
    from droptrack.model.ostrack import build_model

    torch.save(obj, tmp_path / "mae.pth")
    model = build_model(load_config("tiny_ce_test"))
    with pytest.raises(CheckpointError) as err:
        load_pretrained(model, tmp_path / "mae.pth")
    assert "mae.pth" in str(err.value) and "\n" not in str(err.value)


def test_droptrack_checkpoint_without_meta_is_one_line(tiny_ckpt, tmp_path):
    obj = torch.load(tiny_ckpt, weights_only=True)
    del obj["meta"]
    torch.save(obj, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=r"m\.pt' has a NoneType as its metadata"):
        read_meta(tmp_path / "m.pt")


def test_names_from_a_file_cannot_drive_the_terminal(tmp_path, video):
    """A weight named with a terminal escape (clear screen, set title) and a newline is shown escaped, on one line."""
    name = "backbone.pos_embed_x\x1b[2J\x1b]0;owned\x07\nerror: fake"
    net = {"backbone.pos_embed_x": torch.zeros(1, 576, 768), name: torch.tensor([float("nan")])}
    torch.save(official_like(net), tmp_path / "model.pth.tar")
    line = one_line_error(cli("run", video, "-m", tmp_path / "model.pth.tar", "--device", "cpu", "--init", INIT))
    assert "\\x1b[2J\\x1b]0;owned\\x07\\nerror: fake" in line and line.isprintable(), repr(line)


def test_a_safetensors_header_of_many_megabytes_is_not_parsed(tmp_path):
    """A header the safetensors library would accept (under 100 MB) but no model has: 200k empty tensors."""
    import json
    import struct

    header = json.dumps({f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(200_000)})
    path = tmp_path / "many.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode())
    with pytest.raises(CheckpointError, match=r"many\.safetensors' has a header of 13 MiB, larger than a model's"):
        read_file(path)


def nan_weight_with_a_long_name(obj: dict) -> None:
    obj["net"]["backbone." + "k" * 100_000] = torch.full((1,), float("nan"))
    del obj["net"]["backbone.pos_embed"]


@pytest.mark.parametrize("change", [lambda o: o.__setitem__("config_name", "n" * 100_000),
                                    lambda o: o["net"].__setitem__("k" * 100_000, torch.zeros(1)),
                                    nan_weight_with_a_long_name])
def test_names_of_megabytes_from_a_checkpoint_are_cut_in_the_error_line(tiny_ckpt, tmp_path, video, change):
    obj = torch.load(tiny_ckpt, weights_only=True)
    change(obj)
    torch.save(obj, tmp_path / "model.pt")
    line = one_line_error(cli("run", video, "-m", tmp_path / "model.pt", "--device", "cpu", "--init", INIT))
    assert ("model.pt" in line or "does not fit" in line) and len(line) < 700, line[:300]
