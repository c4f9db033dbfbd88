"""An atomic write stopped by a signal raised as an exception (Ctrl-C; SIGTERM and SIGHUP as dt eval / dt train raise
them) leaves no `.<name>.<random>.tmp` behind, wherever it lands: CI saw one left by dt eval stopped by SIGHUP, as
the temporary was made (mkstemp) and opened for others (chmod) outside the part that removes it."""

from __future__ import annotations

import os

import pytest

from droptrack.artifact import atomic_write_text


@pytest.mark.parametrize("call", ["close", "chmod", "replace"])
def test_an_interrupt_at_any_step_leaves_no_temporary(tmp_path, monkeypatch, call):
    real = getattr(os, call)

    def interrupted(*args, **kwargs):   # the call is done, then the signal handler's exception comes
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, call, interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(tmp_path / "seq.txt", "1\t2\t3\t4\n")
    monkeypatch.undo()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left in ([], ["seq.txt"]), left   # after the rename the file is whole; before it, nothing


def test_temporaries_keep_their_name_shape_and_mode(tmp_path, monkeypatch):
    """`.<name>.<8 of a-z0-9_>.tmp` (what dt export and dt train sweep after a kill) and 0644 once written."""
    seen, real = [], os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (seen.append(os.path.basename(src)), real(src, dst)))
    atomic_write_text(tmp_path / "seq.txt", "x")
    from droptrack.export.workdir import ATOMIC_TEMP

    assert len(seen) == 1 and ATOMIC_TEMP.match(seen[0]) and seen[0].startswith(".seq.txt.")
    if os.name == "posix":
        assert (tmp_path / "seq.txt").stat().st_mode & 0o777 == 0o644   # as before, whatever the umask


def test_no_room_for_the_temporary_names_the_file_being_written(tmp_path):
    """A file system out of inodes (or a used-up inode quota) refuses the temporary itself: the error named the
    hidden `.<name>.<random>.tmp` (and came through as a bare OSError); it is OutputFull naming the file."""
    from droptrack.errors import OutputFull
    from disk_limits import tmpfs

    with tmpfs(tmp_path / "mnt", "1m", inodes=2) as mnt:   # its root and one file
        (mnt / "first.txt").write_text("x\n")
        with pytest.raises(OutputFull, match=rf"^no room left writing '{mnt / 'seq.txt'}' \(No space left on device\)"):
            atomic_write_text(mnt / "seq.txt", "1,2,3,4\n")
        assert sorted(p.name for p in mnt.iterdir()) == ["first.txt"]
