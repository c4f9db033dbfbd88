"""A complete `dt data synth` set with a frame lost since it was made (emptied by a copy onto a full disk, deleted)
was kept as it was: the same command said the set was there, and dt eval then failed on that frame and said to
download it again, which no one can do for a synthetic set. The same command now writes the set again."""

from __future__ import annotations

import pytest

from droptrack.data import generate_synth
from helpers import cli


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("damage", ["empty frame", "missing frame", "missing groundtruth"])
def test_the_same_command_rewrites_a_set_with_a_lost_file(tmp_path, damage):
    fresh = _files(generate_synth(tmp_path / "fresh", 2, 3, seed=0, size=(96, 64), split="val"))
    out = generate_synth(tmp_path / "set", 2, 3, seed=0, size=(96, 64), split="val")
    seq = out / "synth_val_00002"
    if damage == "empty frame":
        (seq / "00000003.jpg").write_bytes(b"")
    elif damage == "missing frame":
        (seq / "00000002.jpg").unlink()
    else:
        (seq / "groundtruth.txt").unlink()
    res = cli("data", "synth", out, "--sequences", 2, "--frames", 3, "--size", "96x64", "--split", "val")
    assert res.exit_code == 0, res.output
    assert _files(out) == fresh   # the set as a fresh run writes it, byte for byte


def test_an_intact_set_is_still_kept_as_it_is(tmp_path):
    out = generate_synth(tmp_path / "set", 2, 3, seed=0, size=(96, 64), split="val")
    frame = out / "synth_val_00001" / "00000001.jpg"
    before = frame.stat().st_ino, frame.stat().st_mtime_ns
    generate_synth(out, 2, 3, seed=0, size=(96, 64), split="val")
    assert (frame.stat().st_ino, frame.stat().st_mtime_ns) == before   # not written again
