"""A `dt train --stop-after N` that stopped before its last epoch printed `next: dt train ... --resume`, a
placeholder to fill in by hand; it now prints the run's own options with --resume, and that line continues the run
(another N iterations, as --stop-after counts this process's)."""

from __future__ import annotations

import shlex

from tests.helpers import cli


def test_the_next_line_continues_the_run(tmp_path, synth):
    out = tmp_path / "run dir"   # a space: the line must quote it
    args = ["--config", "tiny_ce_test", "--epochs", "3", "--samples-per-epoch", "8", "--batch-size", "4",
            "--workers", "0", "--device", "cpu", "--threads", "1", "--stop-after", "2", "--seed", "7"]
    first = cli("train", *args, "--data", synth, "--output", out)
    assert first.exit_code == 0, first.output
    line = next(x for x in first.output.splitlines() if x.startswith("next: "))
    words = shlex.split(line[len("next: "):])
    assert words[:2] == ["dt", "train"] and "--resume" in words and "..." not in words, line
    assert f"--output={out}" in words and "--seed=7" in words and "--stop-after=2" in words, line
    assert (out / "checkpoint_ep0001.pt").is_file() and not (out / "checkpoint_ep0002.pt").exists()
    second = cli(*words[1:])   # the line as printed, without the program name
    assert second.exit_code == 0, second.output
    assert (out / "checkpoint_ep0002.pt").is_file() and not (out / "final.pt").exists()
