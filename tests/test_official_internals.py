"""Parity with the official OSTrack ViT-B 256-CE inside the backbone, on the reference outputs test_tracker.py does
not read: every block's per-token channel sums in the official internal token order, each CE block's scores, kept
indices (in its order) and relative score gap at its decision, and backbone channels 0..7 after the final LayerNorm
and the raster restoration. When the maps or boxes differ from the official ones, these say at which block the
difference starts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from droptrack.model.vit import ce_score
from official_weights import REF
from test_tracker import _pairs

CE_BLOCKS = (3, 6, 9)


def _run(model, z: np.ndarray, x: np.ndarray) -> tuple[dict, list, list]:
    """Model outputs, every block's output tokens and each CE block's template-centre attention scores."""
    blocks, scores = [], []
    hooks = [b.register_forward_hook(lambda m, i, o: blocks.append(o[0][0].numpy())) for b in model.backbone.blocks]
    lens_z = model.backbone.lens_z
    hooks += [model.backbone.blocks[k].attn.register_forward_hook(
        lambda m, i, o: scores.append(ce_score(o[1], lens_z, model.template_index)[0].numpy())) for k in CE_BLOCKS]
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(z), torch.from_numpy(x), ce_template_mask=model.template_index)
    finally:
        for h in hooks:
            h.remove()
    return out, blocks, scores


def test_block_outputs_ce_scores_and_backbone_channels_equal_the_official_model(official_model):
    model, _ = official_model
    ref = np.load(REF / "model_ostrack256ce.npz")
    inner = np.load(REF / "model_ostrack256ce_internals.npz")
    for i, (z, x) in enumerate(_pairs(ref)):
        out, blocks, scores = _run(model, z, x)
        assert len(blocks) == 12 and len(scores) == 3
        for b, tokens in enumerate(blocks):     # 320 tokens, then 64 + 180 / 126 / 89 after the CE blocks
            want = inner[f"blk{b:02d}_rowsum"][i]
            assert tokens.shape[0] == len(want), f"block {b} pair {i}: {tokens.shape[0]} tokens"
            np.testing.assert_allclose(tokens.sum(1), want, rtol=1e-4, atol=2e-3, err_msg=f"block {b} pair {i}")
        for stage, s in enumerate(scores):      # over the search tokens present at that block, in its order
            np.testing.assert_allclose(s, inner[f"ce_score_stage{stage}"][i], rtol=1e-4, atol=1e-7,
                                       err_msg=f"CE score stage {stage} pair {i}")
            # the gap between the last kept and the first dropped score (ceil(0.7 n) kept), relative to the kept one
            ranked = np.sort(s)[::-1]
            keep = -(-7 * len(s) // 10)
            gap = (ranked[keep - 1] - ranked[keep]) / ranked[keep - 1]
            assert gap == pytest.approx(inner[f"ce_rel_gap_stage{stage}"][i], rel=1e-2), f"stage {stage} pair {i}"
        kept = [ref[f"kept_index_stage{k}"][i] for k in range(3)]
        assert [len(k) for k in kept] == [180, 126, 89]
        removed = [r[0].numpy() for r in out["removed_indexes_s"]]
        for stage in range(2):   # each stage's kept tokens, in order, are the next stage's kept + removed ones
            assert set(kept[stage]) == set(kept[stage + 1]) | set(removed[stage + 1])
        assert np.array_equal(out["global_index_s"][0].numpy(), kept[2])
        feat = out["backbone_feat"][0].numpy()
        np.testing.assert_allclose(feat[:, :8], inner["backbone_feat_ch0_7"][i], rtol=0, atol=1e-4,
                                   err_msg=f"backbone channels 0..7 pair {i}")
        gone = np.concatenate([r[0].numpy() for r in out["removed_indexes_s"]]).astype(int)
        assert not feat[64 + gone].any()         # removed positions are exactly zero after the restoration
