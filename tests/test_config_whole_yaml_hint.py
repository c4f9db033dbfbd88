"""`dt export --config gate.yaml`, the YAML holding only `TEST: {SCALE_GATE: 0.5}` (docs/export.md: "export with the
key set"), was refused with the ViT-B default keys the weights disagree with and "pass the right --config": nothing
said that a YAML is a whole config. The error now names the shipped config that fits the weights, to copy."""

from __future__ import annotations

import pytest
import torch

from droptrack.config import load_config
from droptrack.errors import CheckpointError
from droptrack.model.arch_keys import check_buildable
from droptrack.model.default import default_checkpoint
from helpers import cli, one_line_error

HINT = "a YAML is a whole config"


@pytest.fixture(scope="module")
def state():
    return torch.load(default_checkpoint(), map_location="cpu", weights_only=True)["net"]


def test_partial_yaml_names_the_config_to_copy(state, tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text("TEST:\n  SCALE_GATE: 0.5\n")
    with pytest.raises(CheckpointError, match=HINT) as exc:
        check_buildable(state, load_config(path))
    assert "droptrack/configs/droptrack_tiny_synth.yaml fits these weights" in str(exc.value)
    assert str(exc.value).endswith("start from a copy of it); pass the right --config")


def test_shipped_config_gets_no_hint(state):
    with pytest.raises(CheckpointError) as exc:
        check_buildable(state, load_config("vitb_384_mae_ce_32x4_ep300"))
    assert HINT not in str(exc.value) and str(exc.value).endswith("pass the right --config")


def test_cli_partial_yaml_is_one_line_with_the_hint(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text("TEST:\n  SCALE_GATE: 0.5\n")
    line = one_line_error(cli("export", "--ort", "--config", path, "-o", tmp_path / "out"))
    assert "droptrack_tiny_synth.yaml" in line and not (tmp_path / "out").exists()
