"""`dt train --nproc 2` started as a background job of a script (SIGINT inherited as ignored, as `&` starts it):
the CLI holds that SIGINT for dt train (`signals.held_while_ignored`), so `kill -INT` stops it as Ctrl-C stops a
foreground run: once, the checkpoint kept, with the line saying how to resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_train_nproc_early_stop import ctrl_c

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc (the launcher's pid)")


def interrupted(out: Path, synth: Path, when: str) -> tuple[int, list[str]]:
    """`dt train --nproc 2 --save-interval 1` started with SIGINT ignored, sent SIGINT once `when` is there."""
    return ctrl_c(out, synth, when, "--save-interval", "1", ignored=("INT",))


@pytest.mark.parametrize("when", ["launcher", "ranks"])
def test_ignored_sigint_before_any_checkpoint_stops_once(tmp_path, synth, when):
    code, lines = interrupted(tmp_path / "run", synth, when)
    assert code == 130 and not (tmp_path / "run" / "last.pt").exists(), (code, lines)
    assert lines == ["interrupted; no checkpoint was written yet; run the same command again to start over"], lines


def test_ignored_sigint_while_training_keeps_the_checkpoint_and_says_resume(tmp_path, synth):
    out = tmp_path / "run"
    code, lines = interrupted(out, synth, "last.pt")
    assert code == 130, (code, lines)
    assert [ln for ln in lines if ln.startswith("interrupted")] == [
        f"interrupted; run the same command with --resume to continue from {out / 'last.pt'} (saved at each "
        "epoch's end, at the iteration a stop signal or Ctrl-C ended, and every N iterations with --save-interval N)"
    ], lines
