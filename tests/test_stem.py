"""MODEL.BACKBONE.STEM 'mobilenetv2': the frozen ImageNet stem stays frozen through training steps (weights and
BatchNorm statistics), its config is checked, a checkpoint of it reloads to the same outputs, and its exported ONNX
Runtime graph computes what PyTorch does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from droptrack.config import load_config
from droptrack.errors import ConfigError
from droptrack.model import build_model
from droptrack.model.checkpoint import load_tracking_checkpoint, save_checkpoint
from droptrack.train.optim import param_groups


def _stem_cfg(depth: int = 2):
    cfg = load_config("droptrack_tiny_synth")
    cfg.MODEL.BACKBONE.STEM, cfg.MODEL.BACKBONE.DEPTH, cfg.MODEL.BACKBONE.CE_LOC = "mobilenetv2", depth, [1]
    return cfg


def _crops(seed: int = 0, batch: int = 2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, 80, 80, generator=g), torch.randn(batch, 3, 160, 160, generator=g)


def test_stem_stays_frozen_while_the_rest_trains():
    torch.manual_seed(0)
    model = build_model(_stem_cfg(), training=True)
    model.train()
    stem = model.backbone.patch_embed.stem
    before = {k: v.clone() for k, v in stem.state_dict().items()}
    proj_before = model.backbone.patch_embed.stem_proj.weight.detach().clone()
    assert not stem.training and model.backbone.patch_embed.stem_proj.training
    opt = torch.optim.AdamW(param_groups(model, 1e-3, 1.0), lr=1e-3)
    for seed in range(2):
        z, x = _crops(seed)
        out = model(z, x)
        loss = out["score_map"].mean() + out["size_map"].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = stem.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)   # running means/vars too: BatchNorm stayed in eval
    assert not torch.equal(proj_before, model.backbone.patch_embed.stem_proj.weight)
    trained = {id(p) for group in param_groups(model, 1e-3, 1.0) for p in group["params"]}
    assert not any(id(p) in trained for p in stem.parameters())


def test_stem_tokens_have_the_patch_grid():
    model = build_model(_stem_cfg()).eval()
    # MobileNetV2 to features.10: 30 convolutions (1 + 2 + 3 x 9), 10 of them depthwise (one per block)
    convs = [m for m in model.backbone.patch_embed.stem.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 1 + 2 + 3 * 9 and sum(c.groups > 1 for c in convs) == 10
    z, x = _crops()
    with torch.no_grad():
        assert model.backbone.patch_embed(x).shape == (2, 100, 128)   # 160 px at stride 16: 10 x 10 tokens
        assert model.backbone.patch_embed(z).shape == (2, 25, 128)


@pytest.mark.parametrize("stem, stride, why", [("resnet", 16, "'resnet'"), ("mobilenetv2", 8, "STRIDE 8")])
def test_stem_config_refused(tmp_path, stem, stride, why):
    path = tmp_path / "c.yaml"
    path.write_text(f"MODEL:\n  BACKBONE:\n    STEM: {stem}\n    STRIDE: {stride}\n"
                    "DATA:\n  SEARCH: {SIZE: 256}\n  TEMPLATE: {SIZE: 128}\n"
                    "TEST: {SEARCH_SIZE: 256, TEMPLATE_SIZE: 128}\n")
    with pytest.raises(ConfigError, match=why) as exc:   # the stride is checked where the network is built
        build_model(load_config(path))
    assert "\n" not in str(exc.value)


def test_stem_checkpoint_reloads_to_the_same_outputs(tmp_path):
    torch.manual_seed(1)
    cfg = _stem_cfg()
    model = build_model(cfg).eval()
    save_checkpoint(tmp_path / "stem.pt", model, cfg)
    loaded, loaded_cfg = load_tracking_checkpoint(tmp_path / "stem.pt")
    assert loaded_cfg.MODEL.BACKBONE.STEM == "mobilenetv2"
    z, x = _crops(3)
    with torch.no_grad():
        assert torch.equal(model(z, x)["score_map"], loaded.eval()(z, x)["score_map"])


def test_stem_model_exports_to_onnx_runtime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from droptrack.export.pipeline import export_all

    torch.manual_seed(2)
    cfg = _stem_cfg()
    model = build_model(cfg).eval()
    save_checkpoint(tmp_path / "stem.pt", model, cfg)
    export_all(tmp_path / "stem.pt", output_dir=tmp_path / "out", ort=True)
    import onnx

    graph = onnx.load(str(tmp_path / "out" / "model_ort.onnx")).graph
    depthwise = [n for n in graph.node if n.op_type == "Conv"
                 and any(a.name == "group" and a.i > 1 for a in n.attribute)]
    assert len(depthwise) == 20   # the stem's 10, once for the template and once for the search crops
    session = ort.InferenceSession(str(tmp_path / "out" / "model_ort.onnx"), providers=["CPUExecutionProvider"])
    z, x = _crops(4)
    names = [i.name for i in session.get_inputs()]
    template = next(n for n in names if "template" in n or n == "z")
    search = next(n for n in names if n != template)
    got = session.run(["score_map"], {template: z.numpy(), search: x.numpy()})[0]
    with torch.no_grad():
        want = model(z, x, ce_template_mask=model.template_mask(2))["score_map"].numpy()
    assert np.abs(got - want).max() < 1e-4
