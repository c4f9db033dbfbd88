"""`dt doctor` on a checkpoint of another model family (a ResNet's weights), or a PyTorch file that holds no model
at all, printed the environment table and then 'error: ...' on stdout with exit 1, a finding about this machine;
dt run refuses the same file as bad input. It is now that: one line on stderr, exit 2, as dt run says it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from helpers import cli


@pytest.mark.parametrize("content, said", [
    ({"conv1.weight": torch.zeros(4, 3, 7, 7), "fc.weight": torch.zeros(10, 4), "fc.bias": torch.zeros(10)},
     "is not a tracking checkpoint"),
    ([1.0], "holds a list, not a dict of weights"),
])
def test_a_checkpoint_that_is_no_tracker_is_bad_input_as_in_dt_run(tmp_path, content, said):
    path = tmp_path / "resnet.pt"
    torch.save(content, path)
    r = cli("doctor", path)
    assert r.exit_code == 2 and r.stdout == "", r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0] and "resnet.pt" in lines[0], r.stderr
    clip = tmp_path / "clip"
    clip.mkdir()
    cv2.imwrite(str(clip / "00000.png"), np.zeros((48, 64, 3), np.uint8))
    run = cli("run", clip, "--init", "10,10,20,20", "-m", path)
    assert run.exit_code == 2 and run.stderr == r.stderr, run.stderr


def test_a_good_checkpoint_still_gets_the_table_and_its_verdict(tiny_ckpt):
    r = cli("doctor", tiny_ckpt)
    assert r.exit_code == 0, r.output
    assert "dt doctor" in r.stdout and "ok: checkpoint " in r.stdout, r.stdout
