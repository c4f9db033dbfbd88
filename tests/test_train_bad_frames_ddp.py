"""Under DDP each rank draws its own samples, so each meets its own unreadable frames: the end-of-run line counted only
rank 0's, and the frames only another rank met were never named in train.log. Now the line is one total over the
ranks, written once, and rank 0 names the others' frames."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from bad_frames_rank import run_rank
from droptrack.cli import app
from droptrack.train.badframes import BadFrames
from test_train_bad_frames import damaged_copy, runner


def test_the_skipped_frames_line_is_one_total_over_two_gloo_ranks(tmp_path):
    """Two real gloo processes: rank 0 met frames A and B (3 samples), rank 1 B and C (2 samples). Every rank's
    summary is the total, 5 samples and 3 different frames (B counted once); rank 0, whose lines go to the console
    and train.log, also names C, which only rank 1 met."""
    torch.multiprocessing.spawn(run_rank, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    total = ("5 training sample(s) drawn again because 3 frame(s) could not be read (named in train.log); repair or "
             "re-download them")
    assert json.loads((tmp_path / "0.json").read_text()) == [
        "warning: skipped a training sample in another process of this run: frame C cannot be decoded", total]
    assert json.loads((tmp_path / "1.json").read_text())[-1] == total


def test_a_single_process_says_its_own_count():
    bad = BadFrames()
    bad.add(["frame A cannot be decoded"] * 2)
    told: list[str] = []
    bad.tell_summary(told.append)
    assert told == ["2 training sample(s) drawn again because 1 frame(s) could not be read (named in train.log); "
                    "repair or re-download them"]


@pytest.mark.slow
def test_a_two_process_run_says_the_same_total_as_one_process_and_equals_it(synth, tmp_path):
    """The same 16 samples per epoch in one process (batch 8) and in two gloo ranks (batch 4 each): the DDP run's
    one summary line says what the single run's says (rank 0 alone had counted 4 of the 6), and its weights and
    learning rate are the single run's (gradients averaged over the ranks; linear lr scaling per global batch 8)."""
    data = damaged_copy(synth, tmp_path / "data", ["synth_train_00002/00000005.jpg"])
    common = ["--config", "tiny_ce_test", "--data", str(data), "--epochs", "2", "--samples-per-epoch", "16",
              "--workers", "0", "--seed", "3", "--device", "cpu", "--freeze-bn"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # the single process in this one (what `python -m droptrack.train` runs: dt train), sparing a torch start-up
    single = runner.invoke(app, ["train", *common, "--batch-size", "8", "--output", str(tmp_path / "single")])
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
                          "droptrack.train", *common, "--batch-size", "4", "--output", str(tmp_path / "ddp")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert single.exit_code == 0 and ddp.returncode == 0, single.output[-2000:] + ddp.stderr[-2000:]
    lines = [[ln for ln in out.splitlines() if "drawn again" in ln] for out in (single.output, ddp.stderr)]
    assert len(lines[0]) == 1 and lines[1] == lines[0], lines
    log = (tmp_path / "ddp" / "train.log").read_text().splitlines()
    assert [ln for ln in log if "drawn again" in ln] == lines[0]
    a = torch.load(tmp_path / "single" / "final.pt", weights_only=True)["net"]
    b = torch.load(tmp_path / "ddp" / "final.pt", weights_only=True)["net"]
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-5
    lr = [torch.load(tmp_path / run / "last.pt", weights_only=True)["lr"] for run in ("single", "ddp")]
    assert lr[0] == lr[1]
