"""Wording a new user meets first: config-name hints, option help per command, the resume hint, --help examples,
and the config check's bounds on the crop jitter/factor keys."""

from __future__ import annotations

import pytest

from droptrack.config import load_config
from droptrack.errors import ConfigError
from helpers import cli, one_line_error


def test_unknown_config_with_the_embedded_model_offers_its_configs(video, tmp_path):
    """`dt run --config nothere` with the embedded model said "did you mean 'tiny_ce_test'?" (a test config of
    another network); now the configs that build the embedded network are named, and no test config."""
    line = one_line_error(cli("run", video, "--init", "1,1,10,10", "--config", "nothere", "-o", tmp_path / "b.txt"))
    assert "unknown config 'nothere'" in line
    assert "droptrack_tiny_synth" in line and "tiny_ce_test" not in line and "vitb_" not in line


@pytest.mark.parametrize("typed, hinted", [("nothere", None), ("tiny_ce", "droptrack_tiny_synth"),
                                           ("tiny_ce_tst", "tiny_ce_test"),
                                           ("vitb_384_mae_ce_32x4_ep30", "vitb_384_mae_ce_32x4_ep300")])
def test_unknown_config_hint_skips_test_configs(typed, hinted):
    """A test config is offered only for a near-typo of its name; a name close to nothing lists the user configs."""
    with pytest.raises(ConfigError) as info:
        load_config(typed)
    msg = str(info.value)
    if hinted is None:
        assert "choose one of:" in msg and "droptrack_tiny_synth" in msg and "tiny_ce_test" not in msg
    else:
        assert msg.endswith(f"did you mean '{hinted}'?")
