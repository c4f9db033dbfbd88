"""dt train's yellow notes (more workers than cores, no --pretrained weights, little free space, RNG states of fewer
processes, a resume that falls back, emulated bf16) read as plain lines in a log or a pipe; every other command
starts such a line with 'warning: ', and dt train's now do too."""

from __future__ import annotations

import torch

from droptrack.train.space import check_space, free_bytes
from droptrack.train.state import restore_rng


def test_little_free_space_is_a_warning_line(tmp_path):
    said: list[str] = []
    size = free_bytes(tmp_path) // 3   # room for the first epoch's 2 checkpoints, not for keep + 3 = 4
    check_space(tmp_path / "run", size, 1, said.append)
    assert len(said) == 1 and said[0].startswith(f"warning: --output '{tmp_path / 'run'}' has "), said


def test_rng_states_of_fewer_processes_is_a_warning_line():
    said: list[str] = []
    restore_rng([{"cpu": torch.get_rng_state()}], 1, torch.device("cpu"), said.append)
    assert said == ["warning: the checkpoint holds RNG states of 1 processes; this run has more, so it is not "
                    "bit-exact with the original"]


def test_a_fresh_run_of_several_epochs_without_room_for_three_checkpoints_is_refused(tmp_path):
    import pytest

    from droptrack.errors import TrainingError

    size = int(free_bytes(tmp_path) / 2.5)   # the first epoch's 2 fit; the second epoch's 3 never do
    with pytest.raises(TrainingError, match="from the second epoch on 3 checkpoints"):   # stopped after an epoch
        check_space(tmp_path / "run", size, 1, [].append, epoch=1, last=3)
    said: list[str] = []
    check_space(tmp_path / "run", size, 1, said.append, epoch=1, last=1)   # one epoch: last.pt and its file fit
    assert len(said) == 1 and said[0].startswith("warning: "), said
