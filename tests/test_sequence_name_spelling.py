"""Sequence names as the datasets spell them: spaces and non-ASCII letters are kept, and a name given in the other
Unicode form (a folder copied from macOS keeps 'é' as 'e' + combining accent, a typed name has one code point)
selects that sequence: it was 'not in got10k val; did you mean café run?'."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from droptrack.data import get_sequences
from helpers import img, text

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py

TYPED = "caf\u00e9 run"          # é as one code point (NFC), as typed
COPIED = "cafe\u0301 run"        # e + combining acute (NFD), as macOS writes folder names


def test_names_with_spaces_and_either_unicode_form(tmp_path: Path) -> None:
    assert unicodedata.normalize("NFC", COPIED) == TYPED and COPIED != TYPED
    val = tmp_path / "val"
    for name in ("my seq 1", COPIED):
        for i in (1, 2):
            img(val / name / f"{i:08d}.jpg")
        text(val / name / "groundtruth.txt", "1,2,3,4\n5,6,7,8\n")
    (val / "list.txt").write_bytes(f"\ufeffmy seq 1\r\n{COPIED}\r\n".encode())   # BOM and CRLF
    assert [s.name for s in get_sequences("got10k", tmp_path, split="val")] == ["my seq 1", COPIED]
    (seq,) = get_sequences("got10k", tmp_path, split="val", names=[TYPED])
    assert seq.name == COPIED and seq.frames[1] == val / COPIED / "00000002.jpg"
    both = get_sequences("got10k", tmp_path, split="val", names=[TYPED, COPIED, "my seq 1"])
    assert [s.name for s in both] == [COPIED, "my seq 1"]   # one sequence, named once


def test_a_folder_dataset_name_in_the_other_form(tmp_path: Path) -> None:
    img(tmp_path / TYPED / "1.jpg")
    (seq,) = get_sequences("folder", tmp_path, names=[COPIED])
    assert seq.name == TYPED
