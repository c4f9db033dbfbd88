"""Benchmark annotation files as they reach users (re-saved on Windows: a UTF-8 BOM and CRLF line ends), and
metrics checked on the official OSTrack tracker's own output sequence (tests/data/official_ostrack256ce/seq)."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.data import get_sequences
from helpers import img


pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py

BOM = "\ufeff"


def _windows(path, body: str) -> None:
    """A text file as Notepad saves it: UTF-8 with a BOM, CRLF line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((BOM + body.replace("\n", "\r\n")).encode("utf-8"))


def test_got10k_and_lasot_files_saved_with_a_bom_and_crlf_read_as_the_plain_ones(tmp_path):
    """pytracking reads annotation files through pandas, which skips a UTF-8 BOM; here the BOM was glued to the
    first number ('\\ufeff1' is not a number), so the sequence's groundtruth.txt, its label files and list.txt
    (first name '\\ufeffGOT-10k_Val_000001', no such folder) were refused."""
    val = tmp_path / "val"
    name = "GOT-10k_Val_000001"
    for i in range(1, 4):
        img(val / name / f"{i:08d}.jpg")
    _windows(val / "list.txt", f"{name}\n")
    _windows(val / name / "groundtruth.txt", "1,2,5,6\n2,3,5,6\n3,4,5,6\n")
    _windows(val / name / "absence.label", "0\n1\n0\n")
    _windows(val / name / "cover.label", "8\n0\n3\n")
    _windows(val / name / "meta_info.ini", "resolution: (16, 12)\nobject_class: cat\n")
    (s,) = get_sequences("got10k", tmp_path, split="val")
    assert s.name == name and s.boxes.tolist() == [[1, 2, 5, 6], [2, 3, 5, 6], [3, 4, 5, 6]]
    assert s.cover.tolist() == [8, 0, 3] and s.visible.tolist() == [True, False, True]
    assert s.resolution == (16, 12) and s.object_class == "cat"
    seq = tmp_path / "lasot" / "airplane" / "airplane-1"
    _windows(seq / "groundtruth.txt", "1,2,3,4\n5,6,7,8\n")
    _windows(seq / "full_occlusion.txt", "0,1")
    _windows(seq / "out_of_view.txt", "1,0")
    (la,) = get_sequences("lasot", tmp_path / "lasot", names=["airplane-1"])
    assert la.boxes[0].tolist() == [1, 2, 3, 4] and la.visible.tolist() == [False, False]
    uav = tmp_path / "uav"
    _windows(uav / "anno" / "UAV123" / "bike1.txt", "NaN,NaN,NaN,NaN\n1,2,3,4\n")
    (uav / "data_seq" / "UAV123" / "bike1").mkdir(parents=True)
    (u,) = get_sequences("uav", uav)
    assert np.isnan(u.boxes[0]).all() and u.boxes[1].tolist() == [1, 2, 3, 4]
