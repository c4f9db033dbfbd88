"""An official-layout checkpoint given with a YAML of another architecture: the one-line error names the config key
that disagrees with the weights and both values (tiny_ce_test: patch 16, width 64, depth 4, head 32, 64/128 px)."""

from __future__ import annotations

from importlib import resources

import pytest
import torch
import yaml

from droptrack.config import load_config
from droptrack.errors import CheckpointError
from droptrack.model.checkpoint import load_tracking_checkpoint
from droptrack.model.ostrack import build_model


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """tiny_ce_test weights in the trainer's layout (`net` and its other fields), as a .pth.tar."""
    torch.manual_seed(5)
    path = tmp_path_factory.mktemp("ckpt") / "OSTrack_ep0300.pth.tar"
    torch.save({"epoch": 300, "net_type": "OSTrack", "net": build_model(load_config("tiny_ce_test")).state_dict()},
               path)
    return path


def _yaml(tmp_path, edit) -> str:
    data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    edit(data)
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _depth3(d):
    d["MODEL"]["BACKBONE"].update(DEPTH=3, CE_LOC=[1], CE_KEEP_RATIO=[0.7])


def _search192(d):
    d["DATA"]["SEARCH"]["SIZE"] = d["TEST"]["SEARCH_SIZE"] = 192


@pytest.mark.parametrize("edit, named", [
    (_depth3, "MODEL.BACKBONE.DEPTH gives depth 3, the checkpoint's depth is 4"),
    (lambda d: d["MODEL"]["BACKBONE"].update(STRIDE=8), "MODEL.BACKBONE.STRIDE is 8 in the config, the checkpoint's "
                                                         "patch is 16"),
    (lambda d: d["MODEL"]["BACKBONE"].update(EMBED_DIM=32), "MODEL.BACKBONE.EMBED_DIM gives width 32, the "
                                                             "checkpoint's width is 64"),
    (lambda d: d["MODEL"]["HEAD"].update(NUM_CHANNELS=16), "MODEL.HEAD.NUM_CHANNELS is 16 in the config, the "
                                                            "checkpoint's is 32"),
    (_search192, "DATA.SEARCH.SIZE is 192 in the config, the checkpoint's is 128"),
])
def test_the_disagreeing_key_and_both_values_are_named(official, tmp_path, edit, named):
    with pytest.raises(CheckpointError) as exc:
        load_tracking_checkpoint(official, config=_yaml(tmp_path, edit))
    line = str(exc.value)
    assert named in line and "\n" not in line, line
    assert "search grid has" not in line, line   # the old guess blamed the crop size for a patch or width change


def test_a_shipped_config_of_the_vit_base_names_its_type(official):
    with pytest.raises(CheckpointError) as exc:
        load_tracking_checkpoint(official, config="vitb_256_mae_ce_32x4_ep300")
    assert "MODEL.BACKBONE.TYPE vit_base_patch16_224_ce gives width 768, the checkpoint's width is 64" in str(exc.value)
