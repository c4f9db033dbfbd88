"""`dt train` options that only act with another one are refused without it: --val-every without --val-data ran no
validation and --trust-checkpoint without --pretrained read nothing, both without a word."""

from __future__ import annotations

import pytest

from droptrack.train.options import TrainOptions, check_options
from tests.helpers import cli, one_line_error


@pytest.mark.parametrize("flags, needs", [(["--val-every", "1"], "--val-data"),
                                          (["--trust-checkpoint"], "--pretrained")])
def test_option_without_the_one_it_needs_is_refused(tmp_path, flags, needs):
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    line = one_line_error(cli("train", "--config", "tiny_ce_test", "--data", data, "--output", out, "--device", "cpu",
                              *flags))
    assert f"{flags[0]} is only used with {needs}" in line and f"drop {flags[0]}" in line, line
    assert not out.exists()


def test_option_with_the_one_it_needs_passes(tmp_path):
    held_out = tmp_path / "held_out"
    held_out.mkdir()
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"x")   # only its existence is checked here
    opts = TrainOptions(config="tiny_ce_test", output=tmp_path / "out", val_data=held_out, val_every=1,
                        pretrained=weights, trust_checkpoint=True)
    check_options(opts)   # no error
    assert opts.val_every == 1 and opts.trust_checkpoint
