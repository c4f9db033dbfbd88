"""Benchmark layouts whose frames and boxes would pair off one frame apart (every later box scored against another
frame, exit 0) are refused in one line naming the missing file: a hole in NfS's 30/ folder (the probe counted up to
it, and the 240 fps rule then took every 8th box), a hole in a GOT-10k test sequence (the submission shifted), a
TNL2K sequence without its first image. Also refused instead of left out without a word: a UAV123 row NaN in part
(left out of every average, blamed on inf values), a TNL2K folder without groundtruth.txt; TrackingNet TEST frames
without their annotation are left out as pytracking leaves them, with a warning (an incomplete submission)."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.errors import DatasetError, PartialDatasetWarning
from helpers import img, text


def _nfs(root, frames: list[int], rows: int):
    for k in frames:
        img(root / "bee" / "30" / "bee" / f"{k:05d}.jpg")
    text(root / "bee" / "30" / "bee.txt", "".join(f"1 {i} 10 {i + 5} 20 {i} 0 0 0 \"bee\"\n" for i in range(rows)))


def test_a_hole_in_an_nfs_folder_is_named(tmp_path):
    _nfs(tmp_path / "ok", list(range(1, 129)), 128)
    (seq,) = get_sequences("nfs", tmp_path / "ok")
    assert len(seq) == 128 and seq.frames[16].name == "00017.jpg" and seq.boxes[16].tolist() == [16, 10, 5, 10]
    _nfs(tmp_path / "hole", [k for k in range(1, 129) if k != 17], 128)   # was 16 frames, boxes gt[::8]: AUC 11
    with pytest.raises(DatasetError, match=r"bee/00017\.jpg"):
        get_sequences("nfs", tmp_path / "hole")


def test_a_hole_in_a_got10k_test_sequence_is_named(tmp_path):
    root = tmp_path / "got" / "test"
    for k in (1, 2, 4, 5, 6):
        img(root / "GOT-10k_Test_000001" / f"{k:08d}.jpg")
    text(root / "GOT-10k_Test_000001" / "groundtruth.txt", "1,2,3,4\n")
    text(root / "list.txt", "GOT-10k_Test_000001\n")
    with pytest.raises(DatasetError, match=r"00000003\.jpg"):   # 5 rows for 6 frames, row 3 frame 4's box
        get_sequences("got10k", tmp_path / "got", split="test")


def test_a_tnl2k_sequence_without_its_first_image_is_named(tmp_path):
    for k in range(2, 10):
        img(tmp_path / "seqA" / "imgs" / f"{k:05d}.jpg")
    text(tmp_path / "seqA" / "groundtruth.txt", "1,2,3,4\n" * 8)   # 8 boxes for images 1-8: every frame one off
    with pytest.raises(DatasetError, match=r"imgs/00001\.jpg"):
        get_sequences("tnl2k", tmp_path)


def test_a_uav_row_nan_in_part_is_named(tmp_path):
    text(tmp_path / "anno" / "UAV123" / "bike1.txt", "1,2,3,4\nNaN,NaN,NaN,NaN\n17,NaN,20,16\n")
    (tmp_path / "data_seq" / "UAV123" / "bike1").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"bike1\.txt:3: a row of numbers and NaN"):
        get_sequences("uav", tmp_path)
    text(tmp_path / "anno" / "UAV123" / "bike1.txt", "1,2,3,4\nNaN,NaN,NaN,NaN\n")   # an absent target: kept
    (seq,) = get_sequences("uav", tmp_path)
    assert np.isnan(seq.boxes[1]).all()


def test_sequences_without_their_annotation_are_named(tmp_path):
    tn = tmp_path / "tn"
    for seq in ("s1", "s2"):
        for k in range(3):
            img(tn / "TEST" / "frames" / seq / f"{k}.jpg")
    text(tn / "TEST" / "anno" / "s1.txt", "1,2,3,4\n")
    with pytest.warns(PartialDatasetWarning, match=r"frames/s2/ has no anno/s2\.txt: left out, and a submission"):
        (seq,) = get_sequences("trackingnet", tn)   # left out as pytracking does (it lists anno/), said now
    assert seq.name == "s1"
    tl = tmp_path / "tl"
    img(tl / "seqA" / "imgs" / "00001.jpg")
    text(tl / "seqA" / "groundtruth.txt", "1,2,3,4\n")
    img(tl / "seqB" / "imgs" / "00001.jpg")
    with pytest.raises(DatasetError, match=r"seqB has imgs/ but no groundtruth\.txt"):
        get_sequences("tnl2k", tl)
