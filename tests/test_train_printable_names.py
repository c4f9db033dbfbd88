"""`dt train` names the checkpoint it wrote: an --output holding control characters reached the terminal raw (an
escape sequence that clears the screen, swallowed from the name where it is not a terminal); it is escaped now, as
in every error line."""

from __future__ import annotations

from droptrack.data.synth import generate_synth
from helpers import cli


def test_the_checkpoint_is_named_with_its_control_characters_escaped(tmp_path):
    data = generate_synth(tmp_path / "train", sequences=2, frames=20, seed=0, size=(96, 72))
    out = tmp_path / "run\x1b[2J"
    res = cli("train", "-c", "tiny_ce_test", "-o", out, "--data", data, "--batch-size", 4, "--samples-per-epoch", 4,
              "--workers", 0, "--device", "cpu", "--epochs", 1)
    assert res.exit_code == 0 and (out / "final.pt").is_file(), res.output
    assert f"checkpoint: {tmp_path}/run\\x1b[2J/final.pt" in res.output.splitlines(), res.output
