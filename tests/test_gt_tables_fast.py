"""Plain comma-separated GT tables (LaSOT, GOT-10k, TrackingNet, UAV123's NaN rows) are read in one go; every table
reads to the same boxes and the same errors as line by line: the values here are written out by hand."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from droptrack.data.labels import load_boxes, load_flags
from droptrack.errors import DatasetError

NAN = float("nan")


@pytest.mark.parametrize("text, rows", [
    ("1,2,3,4\n5.5,6e1,-7,.5\n", [[1, 2, 3, 4], [5.5, 60, -7, 0.5]]),
    ("1,2,3,4", [[1, 2, 3, 4]]),                                   # no final line end
    ("\n1,2,3,4\n\n\n5,6,7,8\n\n", [[1, 2, 3, 4], [5, 6, 7, 8]]),   # blank lines
    ("NaN,NaN,NaN,NaN\n1,2,3,4\n", [[NAN] * 4, [1, 2, 3, 4]]),      # UAV123: target out of view
    ("1 \t 2,  3 ;4\n", [[1, 2, 3, 4]]),                             # a run of blanks beside one separator
    (",1,2,3,4,\n", [[1, 2, 3, 4]]),                                # leading and trailing separators
    ("1,2,3,4\r\n5,6,7,8\r\n", [[1, 2, 3, 4], [5, 6, 7, 8]]),       # Windows line ends
    ("1.000000000000000055511151231257827,2,3,4\n", [[1.0000000000000000555, 2, 3, 4]]),
])
def test_tables_read_to_these_boxes(tmp_path: Path, text: str, rows: list) -> None:
    (tmp_path / "groundtruth.txt").write_text(text)
    assert np.array_equal(load_boxes(tmp_path / "groundtruth.txt"), np.array(rows, dtype=np.float64), equal_nan=True)


@pytest.mark.parametrize("text, line", [
    ("1,2,3,4\n1,2,3\n", 2), ("1,2,3,4\n1,2,3,4,5\n", 2), ("1,2,3,4\n1e,2,3,4\n", 2), ("1,2,3,4\n--1,2,3,4\n", 2),
    ("1,2,3,4\n\n1,2,3," + "1" * 1100 + "\n", 3),   # four numbers, but a row longer than a row of numbers can be
    ("1,2,3,4\n42,,31,40,30\n", 2), ("1,2,3,4\n1, ,2,3,4\n", 2), ("1;;2;3;4\n", 1),   # an empty field: 31 read as y
])
def test_bad_rows_are_named_by_line(tmp_path: Path, text: str, line: int) -> None:
    (tmp_path / "groundtruth.txt").write_text(text)
    with pytest.raises(DatasetError, match=rf"groundtruth\.txt:{line}: "):
        load_boxes(tmp_path / "groundtruth.txt")


@pytest.mark.parametrize("text, flags", [("0,1,0,1\n", [0, 1, 0, 1]), ("1.0\n0\n1\n", [1, 0, 1])])
def test_labels_read_as_integers(tmp_path: Path, text: str, flags: list) -> None:
    (tmp_path / "full_occlusion.txt").write_text(text)
    assert load_flags(tmp_path / "full_occlusion.txt").tolist() == flags


@pytest.mark.parametrize("text, top, shown", [("0,1.9,0", 1, "'1.9' (number 2)"), ("0\n-1\n", 1, "'-1' (number 2)"),
                                             ("2,0", 1, "'2' (number 1)"), ("0\n8\n9\n", 8, "'9' (number 3)"),
                                             ("0.5\n", 8, "'0.5' (number 1)"),
                                             ("-9223372036854775808,0", 1, "'-9223372036854775808' (number 1)")])
def test_labels_outside_their_range_are_refused(tmp_path: Path, text: str, top: int, shown: str) -> None:
    """A GOT-10k cover of 0.5 was truncated to 0 (its frame left out of AO; the toolkit's cover > 0 keeps it), -1 or
    99 were taken as they came: each changed which frames are scored without a word."""
    (tmp_path / "cover.label").write_text(text)
    with pytest.raises(DatasetError, match=rf"cover\.label: label {re.escape(shown)} is not an integer from 0 to {top}"):
        load_flags(tmp_path / "cover.label", top=top)


@pytest.mark.parametrize("text", ["0,nan\n", "0,-inf\n", "9223372036854775808\n", "0,x\n"])
def test_labels_that_are_no_int64_are_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "out_of_view.txt").write_text(text)
    with pytest.raises(DatasetError, match=r"out_of_view\.txt: labels must be integers"):
        load_flags(tmp_path / "out_of_view.txt")
