"""A frame folder whose numbers skip some (0001, 0002, 0005) was tracked without a word, though box-file line k and
--jsonl frame k then stop following the numbers in the names. dt run now says so in one warning line, naming how
many numbers are missing and the first gap; numberings that do not count by one (every 5th frame, timestamps) and
whole ones get none. The run itself is unchanged."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.runtime.folder_source import numbering_gap_note
from helpers import cli

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def _frames(folder: Path, names: list[str]) -> None:
    """48x64 frames of a bright square drifting right, one per name."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, nm in enumerate(names):
        img = np.full((48, 64, 3), 40, np.uint8)
        img[10:30, 10 + i:30 + i] = 220
        cv2.imwrite(str(folder / nm), img)


def test_a_run_over_a_folder_with_missing_numbers_warns_once(tmp_path):
    folder = tmp_path / "frames"
    _frames(folder, [f"{i:04d}.jpg" for i in (1, 2, 5, 6, 7, 10)])
    result = cli("run", folder, "--init", "10,10,20,20", "--output", tmp_path / "boxes.txt")
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if "frame number" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: "), result.output
    assert "skips 4 frame numbers" in lines[0] and "2 gaps" in lines[0]
    assert "0002.jpg is followed by 0005.jpg" in lines[0]
    assert len((tmp_path / "boxes.txt").read_text().splitlines()) == 6   # every image still tracked


@pytest.mark.parametrize("numbers", [range(1, 7), range(0, 30, 5), (1700000000, 1700000033, 1700000067, 1700000100)])
def test_whole_or_evenly_spaced_numberings_get_no_note(tmp_path, numbers):
    files = [tmp_path / f"frame_{n:08d}.png" for n in numbers]
    assert numbering_gap_note(tmp_path, files) is None


def test_names_that_share_no_pattern_get_no_note(tmp_path):
    files = [tmp_path / n for n in ("a1.png", "a2.png", "b7.png", "a9.png")]
    assert numbering_gap_note(tmp_path, files) is None
    timestamps = [tmp_path / f"1700000000.{n}.png" for n in (1, 2, 3, 5)]
    assert numbering_gap_note(tmp_path, timestamps) is None


def test_the_number_is_the_names_last_digits(tmp_path):
    files = [tmp_path / f"cam2_{n:05d}.png" for n in (1, 2, 3, 4, 9)]
    note = numbering_gap_note(tmp_path, files)
    assert note is not None and "skips 4 frame numbers (1 gap;" in note and "cam2_00004.png is followed" in note
