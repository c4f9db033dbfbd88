"""`dt train` as it runs: a killed DataLoader worker ends the run with one line that says why and how to go on (not
torch's traceback), more workers than cores is one note, and each epoch's summary says how long the rest takes."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from droptrack.cli import app

runner = CliRunner()


def dt_train(out: Path, synth: Path, *extra: str):
    return runner.invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(out), "--data", str(synth),
                               "--epochs", "2", "--batch-size", "4", "--samples-per-epoch", "8", "--device", "cpu",
                               *extra])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers inherit the patched class by fork")
def test_a_killed_worker_is_one_line_naming_memory_workers_and_resume(tmp_path, synth, monkeypatch):
    from torch.utils.data import get_worker_info

    import droptrack.train.data as data

    real = data.PairDataset.__getitem__

    def die_in_epoch_2(self, key):
        if get_worker_info() is not None and key[0] == 2:   # only inside a worker process
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, key)

    monkeypatch.setattr(data.PairDataset, "__getitem__", die_in_epoch_2)
    out = tmp_path / "run"
    result = dt_train(out, synth, "--workers", "1")
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert lines[-1].startswith("error: a data-loading worker process died (DataLoader worker (pid"), lines[-1]
    assert "--workers" in lines[-1] and f"--resume to continue from {out / 'last.pt'}" in lines[-1], lines[-1]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="the core count is read from the affinity mask")
def test_more_workers_than_cores_is_one_note_not_torchs_warnings(tmp_path, synth, monkeypatch, recwarn):
    """On a 1-core machine --workers 2 trains; torch's two multi-line UserWarnings (with its source line) are one
    note naming the flag and a count that fits."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    result = dt_train(tmp_path / "run", synth, "--workers", "2")
    assert result.exit_code == 0, result.output
    assert not [w for w in recwarn if "This DataLoader will create" in str(w.message)]
    notes = [ln for ln in result.output.splitlines() if "--workers 2:" in ln]
    assert notes == ["warning: --workers 2: more data-loading workers than the 1 CPU core(s) this process may use only cost "
                     "memory and start-up time; --workers 1 is enough"], result.output


def test_epoch_summary_says_how_long_the_rest_of_the_run_takes(tmp_path, synth):
    """The bar's time left is the epoch's; a 300-epoch run also needs the run's: each epoch's summary line ends with
    the epochs to go and the time they take at the pace so far (none after the last epoch)."""
    import re

    from droptrack.train.loop import time_left

    assert time_left(100.0, 10, 25, 10) == "; 3 more epochs, about 0:04:10 left"   # 10 s/iteration x 25 iterations
    assert time_left(7.0, 2, 2, 2) == "; 1 more epoch, about 0:00:07 left" and time_left(5.0, 4, 0, 2) == ""
    # --epochs 1e20: timedelta overflowed (a traceback after the first epoch)
    assert time_left(5.0, 1, 10**20, 2).endswith("epochs, about more than 30 years left")
    result = dt_train(tmp_path / "run", synth, "--workers", "0")
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if re.match(r"epoch \d/2: loss ", ln)]
    assert len(lines) == 2 and re.search(r"; 1 more epoch, about \d+:\d\d:\d\d left$", lines[0]), lines
    assert lines[1].endswith(" keep_rate 0.85"), lines
