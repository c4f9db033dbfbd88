"""Every official OSTrack/DropTrack experiment config ships and builds the network the spec describes.

Expected values are the spec's tables (ostrack_spec.md sections 1.6 and 7), written out here by hand.
"""

from __future__ import annotations

import pytest

from droptrack.config import available_configs, load_config
from droptrack.model.ostrack import build_model

# name: (backbone type, template px, search px, search factor, CE keep counts at blocks 3/6/9 or None,
#        CE template token, CE_WARM_EPOCH, EPOCH, LR_DROP_EPOCH)
OFFICIAL = {
    "vitb_384_mae_ce_32x4_ep300": ("vit_base_patch16_224_ce", 192, 384, 5.0, (404, 283, 199), 65, 80, 300, 240),
    "vitb_384_mae_ce_32x4_got10k_ep100": ("vit_base_patch16_224_ce", 192, 384, 5.0, (404, 283, 199), 65, 50, 100,
                                          80),
    "vitb_384_mae_32x4_ep300": ("vit_base_patch16_224", 192, 384, 5.0, None, None, 80, 300, 240),
    "vitb_256_mae_ce_32x4_ep300": ("vit_base_patch16_224_ce", 128, 256, 4.0, (180, 126, 89), 27, 80, 300, 240),
    "vitb_256_mae_ce_32x4_got10k_ep100": ("vit_base_patch16_224_ce", 128, 256, 4.0, (180, 126, 89), 27, 50, 100,
                                          80),
    "vitb_256_mae_32x4_ep300": ("vit_base_patch16_224", 128, 256, 4.0, None, None, 80, 300, 240),
}


def test_every_official_experiment_config_ships():
    assert set(OFFICIAL) <= set(available_configs())


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_config_sizes_ce_and_schedule(name):
    kind, tpl, search, factor, keep, centre, warm, epochs, drop = OFFICIAL[name]
    c = load_config(name)
    assert c.MODEL.BACKBONE.TYPE == kind
    assert (c.TEST.TEMPLATE_SIZE, c.TEST.SEARCH_SIZE, c.DATA.TEMPLATE.SIZE, c.DATA.SEARCH.SIZE) == (tpl, search,
                                                                                                    tpl, search)
    assert (c.TEST.TEMPLATE_FACTOR, c.TEST.SEARCH_FACTOR, c.DATA.SEARCH.FACTOR) == (2.0, factor, factor)
    assert (c.TRAIN.CE_START_EPOCH, c.TRAIN.CE_WARM_EPOCH, c.TRAIN.EPOCH, c.TRAIN.LR_DROP_EPOCH) == (20, warm, epochs,
                                                                                                     drop)
    model = build_model(c, variant="ostrack")
    counts = model.backbone.keep_counts()
    if keep is None:
        assert c.MODEL.BACKBONE.CE_LOC == [] and counts == [None] * 12 and model.template_mask() is None
    else:
        assert c.MODEL.BACKBONE.CE_LOC == [3, 6, 9] and c.MODEL.BACKBONE.CE_KEEP_RATIO == [0.7, 0.7, 0.7]
        assert tuple(counts[i] for i in (3, 6, 9)) == keep
        assert all(counts[i] is None for i in range(12) if i not in (3, 6, 9))
        assert model.template_mask().nonzero()[:, 1].tolist() == [centre]
    grid = search // 16
    assert model.backbone.pos_embed_x.shape == (1, grid * grid, 768)
