"""The release of a shared per-target family lock (`dt run -o boxes_3.txt` ending) is not taken for a dt serve: its
last holder holds the lock exclusively for the instant it removes the file, and a dt run starting then was refused
with 'a dt serve is writing boxes_<id>.txt'."""

from __future__ import annotations

import fcntl
import os

import pytest

from droptrack import filelock
from droptrack.errors import InputError
from droptrack.runtime import outlock


def _releasing(lock) -> int:
    """A shared holder's last step, frozen: its lock converted to exclusive, the file not removed yet."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_a_run_starting_while_a_family_lock_is_being_released_goes_on(tmp_path, monkeypatch):
    """Run A's release ends (file removed, lock closed) while run B waits between its tries: B takes the lock."""
    family = outlock.targets_lock_path(tmp_path / "boxes.txt")
    fd = _releasing(family)

    def finish_release() -> None:   # run A goes on: removes the file while holding it, then closes it
        if os.path.exists(family):
            os.unlink(family)
            os.close(fd)

    monkeypatch.setattr(filelock, "_pause", finish_release, raising=False)
    with outlock.locked([tmp_path / "boxes_4.txt"]):
        assert family.exists()   # B's own shared lock, on a new file
    assert not family.exists() and not list(tmp_path.iterdir())


def test_a_live_exclusive_holder_of_the_family_is_still_refused(tmp_path, monkeypatch):
    """A dt serve holds the family lock for as long as it serves: every try is refused, then the one-line error."""
    pauses = []
    monkeypatch.setattr(filelock, "_pause", lambda: pauses.append(1), raising=False)
    with outlock.locked([], serving=[tmp_path / "boxes.txt"]):
        with pytest.raises(InputError, match="^a dt serve is writing boxes_<id>.txt"):
            with outlock.locked([tmp_path / "boxes_4.txt"]):
                pass
    assert pauses and not list(tmp_path.iterdir())
