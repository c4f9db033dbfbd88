"""A GOT-10k sequence whose groundtruth.txt has more than one row but fewer rows than its numbered frames (a test
sequence's file with a second line, a val file cut short) was read with one frame per row: only that many frames
were tracked, and a test split's submission held 2 rows for a 5-frame sequence, without a word. The GOT-10k toolkit
asserts one row per frame (the test split: the first row only) and pytracking tracks every .jpg; such a sequence is
now refused in one line naming both counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from droptrack.data import get_sequences
from droptrack.errors import DatasetError
from helpers import cli, img, one_line_error, text


def _split(root: Path, split: str, frames: int, rows: int) -> Path:
    """A GOT-10k split folder of one sequence with `frames` numbered .jpg frames and `rows` x,y,w,h rows."""
    seq = root / split / f"GOT-10k_{split.title()}_000001"
    for i in range(1, frames + 1):
        img(seq / f"{i:08d}.jpg", size=(32, 24))
    text(seq / "groundtruth.txt", "".join(f"{4 + i},4,8,8\n" for i in range(rows)))
    text(root / split / "list.txt", seq.name + "\n")
    return seq


def test_a_test_sequence_with_two_rows_for_five_frames_is_refused(tmp_path):
    seq = _split(tmp_path / "got10k", "test", frames=5, rows=2)
    out = tmp_path / "out"
    line = one_line_error(cli("eval", "--dataset", "got10k", "--root", tmp_path / "got10k", "--split", "test",
                              "--tracker", "kcf", "-o", out))
    assert line == (f"error: {seq / 'groundtruth.txt'} has 2 rows for the 5 frames of {seq} (00000001.jpg to "
                    "00000005.jpg); a GOT-10k groundtruth.txt has one row per frame, or only the first in the test "
                    "split: restore it from the dataset's archive")
    assert not out.exists()   # nothing tracked, no 2-row submission written


def test_a_val_sequence_cut_short_is_refused_and_a_whole_one_is_read(tmp_path):
    seq = _split(tmp_path / "got10k", "val", frames=7, rows=5)
    with pytest.raises(DatasetError, match="has 5 rows for the 7 frames of"):
        get_sequences("got10k", tmp_path / "got10k", "val")
    text(seq / "groundtruth.txt", "4,4,8,8\n" * 7)
    assert len(get_sequences("got10k", tmp_path / "got10k", "val")[0]) == 7
    text(seq / "groundtruth.txt", "4,4,8,8\n")   # the test split's form: every frame, the first box only
    assert len(get_sequences("got10k", tmp_path / "got10k", "val")[0]) == 7
