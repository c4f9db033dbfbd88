"""Model fidelity: official keys/shapes, strict loading, pretrain loading, candidate elimination."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from droptrack.config import load_config
from droptrack.errors import CheckpointError, ConfigError
from droptrack.model import build_model
from droptrack.model.checkpoint import load_pretrained, load_tracking_checkpoint, save_checkpoint

KEYS_FILE = Path(__file__).resolve().parent / "data" / "ostrack_vitb384ce_keys.txt"  # from shared/reference


def official_listing() -> list[tuple[str, tuple[int, ...], bool]]:
    """(key, shape, droptrack_only) from the shared reference listing."""
    rows = []
    for line in KEYS_FILE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, rest = line.split(" ", 1)
        shape = tuple(int(v) for v in rest.split("(")[1].split(")")[0].split(",") if v.strip())
        rows.append((key, shape, "DropTrack only" in line))
    return rows


@pytest.fixture(scope="module")
def vitb384():
    return build_model(load_config("vitb_384_mae_ce_32x4_ep300")).eval()


def test_droptrack_384_keys_and_shapes_match_official(vitb384):
    ref = official_listing()
    sd = vitb384.state_dict()
    assert len(sd) == 244
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == [(k, s) for k, s, _ in ref]
    assert sum(p.numel() for p in vitb384.parameters()) == 92_827_269


def test_ostrack_256_keys_and_shapes_match_official():
    model = build_model(load_config("vitb_256_mae_ce_32x4_ep300"), variant="ostrack")
    ref = [(k, s) for k, s, dt_only in official_listing() if not dt_only]
    ref = [(k, {"backbone.pos_embed_z": (1, 64, 768), "backbone.pos_embed_x": (1, 256, 768)}.get(k, s)) for k, s in ref]
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == ref
    assert sum(p.numel() for p in model.parameters()) == 92_518_533


def test_ce_keeps_ceil_07_tokens_per_stage_and_restores_zeros(vitb384):
    assert vitb384.backbone.keep_counts() == [None] * 3 + [404] + [None] * 2 + [283] + [None] * 2 + [199] + [None] * 2
    torch.manual_seed(0)
    with torch.no_grad():
        out = vitb384(torch.randn(1, 3, 192, 192), torch.randn(1, 3, 384, 384),
                      ce_template_mask=vitb384.template_mask())
    assert [r.shape[1] for r in out["removed_indexes_s"]] == [172, 121, 84]
    search = out["backbone_feat"][0, 144:]
    zero_rows = (search.abs().sum(-1) == 0).nonzero().flatten()
    removed = torch.cat(out["removed_indexes_s"], dim=1)[0].long().sort().values
    assert torch.equal(zero_rows, removed)  # exactly the removed raster positions are zero
    kept = out["global_index_s"][0].long()
    assert (search[kept].abs().sum(-1) > 0).all()


def test_ce_static_index_equals_official_bool_mask():
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg).eval()
    z, x = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        a = model(z, x, ce_template_mask=model.template_mask(2))
        b = model(z, x, ce_template_mask=model.template_index)
    assert model.template_index == (5,)  # 4x4 grid -> centre (1,1)
    for k in ("score_map", "size_map", "offset_map", "pred_boxes"):
        assert torch.equal(a[k], b[k])


def test_ce_keep_rate_override_and_warmup_disable():
    model = build_model(load_config("tiny_ce_test"))
    assert model.backbone.keep_counts(1.0) == [None] * 4
    assert model.backbone.keep_counts(0.5) == [None, 32, 16, None]
    assert model.backbone.keep_counts() == [None, 45, 32, None]  # ceil(0.7*64)=45, ceil(0.7*45)=32


def test_official_checkpoint_strict_roundtrip(tmp_path, caplog):
    """An official file without --config ran as the CE config without a word (CE leaves no trace in the weights);
    now a note names the inferred config, the CE assumption and the --config of the non-CE one."""
    cfg = load_config("vitb_256_mae_ce_32x4_ep300")
    src = build_model(cfg, variant="ostrack").eval()
    path = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save({"net": src.state_dict(), "epoch": 300, "net_type": "OSTrack"}, path)
    with caplog.at_level("WARNING", logger="droptrack"):
        model, got = load_tracking_checkpoint(path)
    assert got.NAME == "vitb_256_mae_ce_32x4_ep300" and model.variant == "ostrack"
    note = " ".join(r.getMessage() for r in caplog.records)
    assert "inferred vitb_256_mae_ce_32x4_ep300" in note and "candidate elimination (CE)" in note
    assert note.endswith("pass --config vitb_256_mae_32x4_ep300")
    caplog.clear()
    with caplog.at_level("WARNING", logger="droptrack"):
        load_tracking_checkpoint(path, "vitb_256_mae_32x4_ep300")   # a config chosen: nothing to note
    assert not caplog.records
    for k, v in src.state_dict().items():
        assert torch.equal(v, model.state_dict()[k])
    with pytest.raises(CheckpointError, match="256/384"):
        load_tracking_checkpoint(path, "vitb_384_mae_ce_32x4_ep300")


def test_own_checkpoint_loads_without_config_and_fp16(tmp_path):
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg).eval()
    save_checkpoint(tmp_path / "a.pt", model, cfg, half=True)
    loaded, got = load_tracking_checkpoint(tmp_path / "a.pt")
    assert got.NAME == "tiny_ce_test" and loaded.variant == "droptrack"
    w = model.state_dict()["backbone.blocks.0.attn.qkv.weight"]
    assert torch.allclose(loaded.state_dict()["backbone.blocks.0.attn.qkv.weight"], w.half().float())
    obj = torch.load(tmp_path / "a.pt", weights_only=True)  # plain data only
    assert obj["meta"]["search_size"] == 128 and not list(tmp_path.glob("*.tmp"))


def test_saving_the_same_checkpoint_twice_gives_the_same_bytes(tmp_path):
    """Caches keyed on a checkpoint's sha256 (export, precision_targets --tracker-keys) must find a re-saved one."""
    from droptrack.artifact import sha256_file

    cfg = load_config("tiny_ce_test")
    model = build_model(cfg).eval()
    a, b = save_checkpoint(tmp_path / "a.pt", model, cfg), save_checkpoint(tmp_path / "sub" / "b.pt", model, cfg)
    assert sha256_file(a) == sha256_file(b)


def test_bad_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_tracking_checkpoint(tmp_path / "missing.pth.tar")
    (tmp_path / "corrupt.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_tracking_checkpoint(tmp_path / "corrupt.pth")
    tiny = build_model(load_config("tiny_ce_test"))
    torch.save({"net": tiny.state_dict()}, tmp_path / "other.pth.tar")
    with pytest.raises(CheckpointError, match="another architecture|pass --config|pass the right"):
        load_tracking_checkpoint(tmp_path / "other.pth.tar", "vitb_256_mae_ce_32x4_ep300")


def _mae_like(dim: int, depth: int, heads_keys: bool) -> dict:
    sd = {"cls_token": torch.randn(1, 1, dim), "pos_embed": torch.randn(1, 197, dim),
          "patch_embed.proj.weight": torch.randn(dim, 3, 16, 16), "patch_embed.proj.bias": torch.randn(dim),
          "norm.weight": torch.randn(dim), "norm.bias": torch.randn(dim)}
    for i in range(depth):
        p = f"blocks.{i}."
        sd.update({p + "norm1.weight": torch.randn(dim), p + "norm1.bias": torch.randn(dim),
                   p + "attn.qkv.weight": torch.randn(3 * dim, dim), p + "attn.qkv.bias": torch.randn(3 * dim),
                   p + "attn.proj.weight": torch.randn(dim, dim), p + "attn.proj.bias": torch.randn(dim),
                   p + "norm2.weight": torch.randn(dim), p + "norm2.bias": torch.randn(dim),
                   p + "mlp.fc1.weight": torch.randn(4 * dim, dim), p + "mlp.fc1.bias": torch.randn(4 * dim),
                   p + "mlp.fc2.weight": torch.randn(dim, 4 * dim), p + "mlp.fc2.bias": torch.randn(dim)})
    if heads_keys:  # DropMAE: temporal embeds, mask token, decoder
        sd.update({"temporal_pos_embed_x": torch.randn(1, 1, dim), "temporal_pos_embed_z": torch.randn(1, 1, dim),
                   "mask_token": torch.randn(1, 1, 512), "decoder_embed.weight": torch.randn(512, dim),
                   "decoder_pos_embed": torch.randn(1, 197, 512)})
        del sd["cls_token"]
    return sd


def test_dropmae_pretrain_loading_resizes_pos_embed(tmp_path):
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg, training=True)
    sd = _mae_like(64, 4, heads_keys=True)
    torch.save({"model": sd, "epoch": 10}, tmp_path / "dropmae.pth")
    rep = load_pretrained(model, tmp_path / "dropmae.pth")
    bb = model.backbone
    assert torch.equal(bb.temporal_pos_embed_x, sd["temporal_pos_embed_x"])
    assert torch.equal(bb.blocks[3].attn.qkv.weight, sd["blocks.3.attn.qkv.weight"])
    grid = sd["pos_embed"][:, 1:].reshape(1, 14, 14, 64).permute(0, 3, 1, 2)
    ref_x = torch.nn.functional.interpolate(grid, size=(8, 8), mode="bicubic", align_corners=False)
    assert torch.allclose(bb.pos_embed_x, ref_x.flatten(2).transpose(1, 2))
    ref_z = torch.nn.functional.interpolate(grid, size=(4, 4), mode="bicubic", align_corners=False)
    assert torch.allclose(bb.pos_embed_z, ref_z.flatten(2).transpose(1, 2))
    assert "mask_token" in rep.dropped and any("decoder" in k for k in rep.dropped)
    assert rep.missing == ["cls_token"]


def test_mae_pretrain_into_ostrack_and_bad_pretrained(tmp_path):
    model = build_model(load_config("tiny_ce_test"), variant="ostrack", training=True)
    torch.save({"model": _mae_like(64, 4, heads_keys=False)}, tmp_path / "mae.pth")
    rep = load_pretrained(model, tmp_path / "mae.pth")
    assert rep.missing == [] and rep.unexpected == []
    torch.save({"model": {"conv1.weight": torch.randn(8, 3, 3, 3)}}, tmp_path / "resnet.pth")
    with pytest.raises(CheckpointError, match="not a ViT"):
        load_pretrained(model, tmp_path / "resnet.pth")
    torch.save({"model": _mae_like(32, 4, heads_keys=False)}, tmp_path / "narrow.pth")
    with pytest.raises(CheckpointError, match="width 32"):
        load_pretrained(model, tmp_path / "narrow.pth")


@pytest.mark.parametrize("pos, ok", [((1, 198, 64), True), ((1, 197, 32), False), ((197, 64), False),
                                      ((1, 201, 64), False)])
def test_pretrained_pos_embed_with_two_class_tokens_loads_and_other_layouts_are_one_line(tmp_path, pos, ok):
    """DeiT-distilled ViTs lead the grid with a class and a distillation token (198 = 2 + 14*14); a pos_embed of
    another width, rank or a non-square grid is named, where it was a traceback from the resize."""
    model = build_model(load_config("tiny_ce_test"), variant="ostrack", training=True)
    sd = _mae_like(64, 4, heads_keys=False)
    sd["pos_embed"] = torch.randn(*pos)
    torch.save({"model": sd}, tmp_path / "vit.pth")
    if not ok:
        with pytest.raises(CheckpointError, match="pos_embed has") as err:
            load_pretrained(model, tmp_path / "vit.pth")
        assert "vit.pth" in str(err.value) and "\n" not in str(err.value)
        return
    load_pretrained(model, tmp_path / "vit.pth")
    grid = sd["pos_embed"][:, 2:].reshape(1, 14, 14, 64).permute(0, 3, 1, 2)
    ref_x = torch.nn.functional.interpolate(grid, size=(8, 8), mode="bicubic", align_corners=False)
    assert torch.allclose(model.backbone.pos_embed_x, ref_x.flatten(2).transpose(1, 2))


def test_tracking_checkpoint_of_another_crop_size_resizes_its_search_and_template_grids(tmp_path):
    """A released 256 model given as --pretrained to a 384 config (here: tiny 160 -> 128 search, 64 -> 80 template):
    its pos_embed_x / pos_embed_z were left at their random init (reported only); they are resized bicubically, as
    from MAE weights."""
    from droptrack.config import config_from_dict, config_to_dict

    base = config_to_dict(load_config("tiny_ce_test"))
    base["DATA"]["SEARCH"]["SIZE"], base["DATA"]["TEMPLATE"]["SIZE"] = 160, 80
    base["TEST"]["SEARCH_SIZE"], base["TEST"]["TEMPLATE_SIZE"] = 160, 80
    src = build_model(config_from_dict(base), training=True)
    net = src.state_dict()
    torch.save({"net": net, "epoch": 300}, tmp_path / "OSTrack_ep0300.pth.tar")
    model = build_model(load_config("tiny_ce_test"), training=True)
    rep = load_pretrained(model, tmp_path / "OSTrack_ep0300.pth.tar")
    assert rep.missing == [] and rep.wrong_shape == [] and "resized to this crop size" in rep.summary()
    for key, old, new in (("pos_embed_x", 10, 8), ("pos_embed_z", 5, 4)):
        grid = net[f"backbone.{key}"].reshape(1, old, old, 64).permute(0, 3, 1, 2)
        ref = torch.nn.functional.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)
        assert torch.allclose(getattr(model.backbone, key), ref.flatten(2).transpose(1, 2))
    assert torch.equal(model.backbone.blocks[1].attn.qkv.weight, net["backbone.blocks.1.attn.qkv.weight"])


def test_config_keys_in_lower_case_name_the_key_they_meant(tmp_path):
    """YAML written in lower case ('train:', 'lr_drop_epochs:') listed every valid key instead of naming the one."""
    bad = tmp_path / "lower.yaml"
    bad.write_text("train:\n  epoch: 2\n")
    with pytest.raises(ConfigError, match=r"^unknown config key 'train'; did you mean 'TRAIN'\?$"):
        load_config(str(bad))
    bad.write_text("TRAIN:\n  lr_drop_epochs: 2\n")
    with pytest.raises(ConfigError, match=r"'TRAIN.lr_drop_epochs'; did you mean 'TRAIN.LR_DROP_EPOCH'\?$"):
        load_config(str(bad))


def test_config_errors_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'vitb_384_mae_ce_32x4_ep300'"):
        load_config("vitb_384_mae_ce_32x4_ep30")
    bad = tmp_path / "bad.yaml"
    bad.write_text("MODEL:\n  BACKBONE:\n    CE_LOCC: [3]\n")
    with pytest.raises(ConfigError, match="MODEL.BACKBONE.CE_LOC"):
        load_config(bad)


def test_official_configs_values():
    c = load_config("vitb_384_mae_ce_32x4_got10k_ep100")
    assert (c.TRAIN.EPOCH, c.TRAIN.LR_DROP_EPOCH, c.TRAIN.CE_WARM_EPOCH) == (100, 80, 50)
    assert c.DATA.TRAIN.DATASETS_NAME == ["GOT10K_train_full"]
    c = load_config("vitb_256_mae_32x4_ep300")
    assert c.MODEL.BACKBONE.TYPE == "vit_base_patch16_224" and c.MODEL.BACKBONE.CE_LOC == []
    assert build_model(c).backbone.keep_counts() == [None] * 12


def test_tracking_checkpoint_as_pretrained_initialises_the_whole_network(tmp_path):
    cfg = load_config("tiny_ce_test")
    src = build_model(cfg).eval()
    save_checkpoint(tmp_path / "src.pt", src, cfg)
    dst = build_model(cfg, training=True)
    rep = load_pretrained(dst, tmp_path / "src.pt")
    assert rep.missing == [] and rep.unexpected == []
    assert all(torch.equal(v, dst.state_dict()[k]) for k, v in src.state_dict().items())
    other = build_model(load_config("vitb_256_mae_ce_32x4_ep300"), training=True)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_pretrained(other, tmp_path / "src.pt")


def test_ce_rankings_are_outputs_and_can_be_forced():
    """Each CE block's ranking is returned; a forced ranking decides exactly which tokens are dropped."""
    torch.manual_seed(1)
    model = build_model(load_config("tiny_ce_test")).eval()
    z, x = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        own = model(z, x, ce_template_mask=model.template_index)
        ranks = own["ce_ranks"]
        assert [tuple(r.shape) for r in ranks] == [(2, 64), (2, 45)]
        assert torch.equal(own["removed_indexes_s"][0].long(), ranks[0][:, 45:])   # stage 0: global = local
        again = model(z, x, ce_template_mask=model.template_index, ce_forced_ranks=ranks)
        forced = [r.flip(1) for r in ranks]                                          # keep the worst tokens
        other = model(z, x, ce_template_mask=model.template_index, ce_forced_ranks=forced)
    assert torch.equal(again["score_map"], own["score_map"])
    assert torch.equal(other["removed_indexes_s"][0].long(), forced[0][:, 45:])
    assert all(torch.equal(a, b) for a, b in zip(other["ce_ranks"], forced))
    assert not torch.equal(other["score_map"], own["score_map"])


def test_ce_rank_branch_keeps_the_official_tokens():
    """The export's separate ranking softmax selects the same tokens as ranking from the block's attention."""
    torch.manual_seed(2)
    model = build_model(load_config("tiny_ce_test")).eval()
    z, x = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        a = model(z, x, ce_template_mask=model.template_mask(1))                    # official bool mask
        b = model(z, x, ce_template_mask=model.template_index, ce_rank_branch=True)
    for ra, rb in zip(a["removed_indexes_s"], b["removed_indexes_s"]):
        assert set(ra[0].tolist()) == set(rb[0].tolist())
    assert torch.allclose(a["score_map"], b["score_map"], atol=1e-6)
