"""A TrackingNet sequence whose anno/<seq>.txt has more than one row but fewer rows than its frames was read with one
frame per row: in TEST a 2-row file gave a 2-row submission for a 5-frame sequence, without a word (pytracking
tracks every .jpg). Such a TEST sequence is now refused in one line naming both counts; in a TRAIN_k chunk, read
whole for training, it is left out with the chunk's note on incomplete sequences."""

from __future__ import annotations

from pathlib import Path

import pytest

from droptrack.data import get_sequences
from droptrack.errors import PartialDatasetWarning
from helpers import cli, img, one_line_error, text


def _chunk(root: Path, chunk: str, rows: dict[str, int], frames: int = 5) -> Path:
    """A TrackingNet chunk folder: each sequence with `frames` frames 0.jpg ... and its number of anno rows."""
    for name, n in rows.items():
        for i in range(frames):
            img(root / chunk / "frames" / name / f"{i}.jpg", size=(32, 24))
        text(root / chunk / "anno" / f"{name}.txt", "".join(f"{4 + i},4,8,8\n" for i in range(n)))
    return root / chunk


def test_a_test_sequence_with_two_rows_for_five_frames_is_refused(tmp_path):
    chunk = _chunk(tmp_path / "tn", "TEST", {"a1": 2, "b2": 1})
    out = tmp_path / "out"
    line = one_line_error(cli("eval", "--dataset", "trackingnet", "--root", tmp_path / "tn", "--tracker", "kcf",
                              "-o", out))
    assert line == (f"error: {chunk / 'anno' / 'a1.txt'} has 2 rows for the 5 frames of {chunk / 'frames' / 'a1'} "
                    "(0.jpg to 4.jpg); a TrackingNet annotation has one row per frame, or only the first in TEST: "
                    "download it again with the TrackingNet devkit (--chunk Test --data anno)")
    assert not out.exists()   # nothing tracked, no 2-row submission written


def test_a_train_sequence_with_a_short_annotation_is_left_out_with_the_chunk_note(tmp_path):
    _chunk(tmp_path / "tn", "TRAIN_0", {"a1": 3, "b2": 5})
    with pytest.warns(PartialDatasetWarning, match=r"1 of its 2 sequences is left out \(1 with an anno/<seq>.txt "
                      r"shorter than its frames \(a1\)\)"):
        seqs = get_sequences("trackingnet", tmp_path / "tn", "train")
    assert [(s.name, len(s)) for s in seqs] == [("b2", 5)]
