"""benchmarks/grow_model.py and average_checkpoints.py: a grown tracker computes the original's function, and an
average of checkpoints holds the element-wise mean of their weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from droptrack.config import config_to_dict, load_config
from droptrack.errors import InputError
from droptrack.model import build_model
from droptrack.model.checkpoint import load_tracking_checkpoint, save_checkpoint
from helpers import benchmark_module


def _depth(tmp_path: Path, depth: int) -> Path:
    """The embedded model's config with DEPTH blocks, as a YAML file."""
    d = config_to_dict(load_config("droptrack_tiny_synth"))
    d["MODEL"]["BACKBONE"]["DEPTH"] = depth
    path = tmp_path / f"depth{depth}.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def _tiny(tmp_path: Path, seed: int, name: str) -> Path:
    """A random 5-block tracker (the embedded model's size before it was grown)."""
    torch.manual_seed(seed)
    cfg = load_config(_depth(tmp_path, 5))
    return save_checkpoint(tmp_path / name, build_model(cfg).eval(), cfg)


def test_grown_model_keeps_the_original_outputs_and_its_new_blocks_learn(tmp_path):
    grow = benchmark_module("grow_model")
    src = _tiny(tmp_path, 0, "src.pt")
    old, new, cfg = grow.grow(src, _depth(tmp_path, 7))
    assert len(old.backbone.blocks) == 5 and len(new.backbone.blocks) == 7
    t, s = cfg.DATA.TEMPLATE.SIZE, cfg.DATA.SEARCH.SIZE
    z, x = torch.rand(2, 3, t, t), torch.rand(2, 3, s, s)
    with torch.no_grad():
        a, b = old(z, x), new(z, x)
    for k in ("score_map", "size_map", "offset_map", "pred_boxes"):
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    # the new blocks are not dead: their zeroed outputs still get a gradient
    new.train()
    out = new(z, x)
    out["pred_boxes"].sum().backward()
    grad = new.backbone.blocks[6].mlp.fc2.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_grow_refuses_a_config_that_is_not_deeper(tmp_path):
    grow = benchmark_module("grow_model")
    src = _tiny(tmp_path, 0, "src.pt")
    with pytest.raises(InputError, match="more than the 5"):
        grow.grow(src, _depth(tmp_path, 5))


def test_average_of_checkpoints_is_the_elementwise_mean(tmp_path):
    avg = benchmark_module("average_checkpoints")
    paths = [_tiny(tmp_path, s, f"c{s}.pt") for s in (1, 2, 3)]
    model, _ = avg.average(paths)
    states = [load_tracking_checkpoint(p)[0].state_dict() for p in paths]
    k = "backbone.blocks.0.attn.qkv.weight"
    by_hand = (states[0][k] + states[1][k] + states[2][k]) / 3
    assert torch.allclose(model.state_dict()[k], by_hand, atol=1e-7)
    assert not torch.allclose(by_hand, states[0][k])
