"""Official-layout checkpoint files in the forms they are found in: `net` with the trainer's other fields, the keys
of a DistributedDataParallel-wrapped model (`module.` prefix), and files with a key too many or too few."""

from __future__ import annotations

import pytest
import torch

from droptrack.config import load_config
from droptrack.errors import CheckpointError
from droptrack.model.checkpoint import load_tracking_checkpoint, read_meta
from droptrack.model.ostrack import build_model


@pytest.fixture(scope="module")
def weights() -> dict[str, torch.Tensor]:
    """A small network's state dict, keyed as the official model's (backbone.*, box_head.*)."""
    torch.manual_seed(3)
    return {k: v.clone() for k, v in build_model(load_config("tiny_ce_test")).state_dict().items()}


@pytest.mark.parametrize("layout", ["net", "bare"])
def test_ddp_module_prefix_is_dropped_and_every_tensor_lands_on_its_key(weights, tmp_path, layout):
    wrapped = {f"module.{k}": v for k, v in weights.items()}
    path = tmp_path / ("ddp.pth.tar" if layout == "net" else "ddp.pth")
    torch.save({"net": wrapped, "epoch": 300, "net_type": "OSTrack"} if layout == "net" else wrapped, path)
    model, _ = load_tracking_checkpoint(path, config="tiny_ce_test")
    loaded = model.state_dict()
    assert sorted(loaded) == sorted(weights)
    assert all(torch.equal(loaded[k], weights[k]) for k in weights)


def test_ddp_prefixed_official_file_gets_the_config_of_its_search_grid(tmp_path):
    path = tmp_path / "ddp.pth.tar"   # 16x16 search tokens: the 256 config (template 128, search 256, factor 4)
    torch.save({"net": {"module.backbone.pos_embed_x": torch.zeros(1, 256, 768),
                        "module.backbone.blocks.0.norm1.weight": torch.ones(768)}}, path)
    meta = read_meta(path)
    assert (meta.template_size, meta.search_size, meta.search_factor) == (128, 256, 4.0)


def test_official_fields_next_to_net_are_ignored(weights, tmp_path):
    path = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save({"epoch": 300, "actor_type": "OSTrackActor", "net_type": "OSTrack", "net": weights, "net_info": None,
                "constructor": None, "optimizer": None, "stats": None, "settings": None}, path)
    model, _ = load_tracking_checkpoint(path, config="tiny_ce_test")
    assert torch.equal(model.state_dict()["box_head.conv5_ctr.bias"], weights["box_head.conv5_ctr.bias"])


@pytest.mark.parametrize("change, named", [("extra", "unexpected ['backbone.extra']"),
                                           ("missing", "missing ['box_head.conv5_size.bias']")])
def test_a_key_too_many_or_too_few_is_one_line_naming_it(weights, tmp_path, change, named):
    weights = dict(weights)
    if change == "extra":
        weights["backbone.extra"] = torch.zeros(3)
    else:
        del weights["box_head.conv5_size.bias"]
    path = tmp_path / "net.pth.tar"
    torch.save({"net": weights}, path)
    with pytest.raises(CheckpointError) as exc:
        load_tracking_checkpoint(path, config="tiny_ce_test")
    assert named in str(exc.value) and "\n" not in str(exc.value)
    # no config explains a name alone: it said 'likely cause: it was trained with another config; pass the right
    # --config', a fix that never loads such a file
    assert str(exc.value).endswith("so the file lacks weights or holds another model's (cut short, damaged or "
                                   "edited); re-download or re-export it") and "--config" not in str(exc.value)


def test_a_droptrack_file_without_one_frame_embedding_is_named_as_missing_it(weights, tmp_path):
    """The variant was read from temporal_pos_embed_x alone: a DropTrack file without it was built as OSTrack, and
    the error called its temporal_pos_embed_z unexpected without naming what was missing."""
    weights = {k: v for k, v in weights.items() if k != "backbone.temporal_pos_embed_x"}
    path = tmp_path / "net.pth.tar"
    torch.save({"net": weights}, path)
    with pytest.raises(CheckpointError) as exc:
        load_tracking_checkpoint(path, config="tiny_ce_test")
    assert "missing ['backbone.temporal_pos_embed_x'] (1 missing, 0 unexpected, 0 wrong shapes)" in str(exc.value)
