"""--samples-per-epoch that is not a whole number of global batches trained fewer pairs than asked, silently (the
last part batch is dropped, as the official loader does): the run now says how many it trains."""

from __future__ import annotations

from tests.helpers import cli

QUICK = ["--config", "tiny_ce_test", "--epochs", "1", "--batch-size", "4", "--workers", "0", "--device", "cpu",
         "--threads", "1", "--stop-after", "1"]


def test_a_part_batch_is_said(tmp_path, synth):
    odd = cli("train", *QUICK, "--samples-per-epoch", "10", "--data", synth, "--output", tmp_path / "odd")
    assert odd.exit_code == 0, odd.output
    said = " ".join(odd.output.split())
    # 10 pairs at batch 4: 2 whole batches = 8 pairs; 8 or 12 are whole
    assert "note: --samples-per-epoch 10 trains 8 pairs an epoch (2 whole batch(es) of 4" in said, said
    assert "pass 8 or 12" in said, said
    whole = cli("train", *QUICK, "--samples-per-epoch", "8", "--data", synth, "--output", tmp_path / "whole")
    assert whole.exit_code == 0, whole.output
    assert "part batch" not in whole.output, whole.output
