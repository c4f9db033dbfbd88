"""LaSOT splits read from the folders present (train, all, LaSOT-extension): a sequence folder whose
groundtruth.txt is missing is refused naming the file, not silently left out of the scores."""

from pathlib import Path

import pytest

from droptrack.data import get_sequences
from droptrack.errors import DatasetError
from tests.test_data import _lasot_seq


def test_sequence_without_groundtruth_is_named(tmp_path: Path) -> None:
    _lasot_seq(tmp_path / "airplane" / "airplane-2", "0,0,0", "0,0,0")
    _lasot_seq(tmp_path / "airplane" / "airplane-3", "0,0,0", "0,0,0")
    assert [s.name for s in get_sequences("lasot", tmp_path, split="all")] == ["airplane-2", "airplane-3"]
    (tmp_path / "airplane" / "airplane-3" / "groundtruth.txt").unlink()
    for split in ("all", "train"):
        with pytest.raises(DatasetError, match=r"airplane-3/groundtruth\.txt is missing"):
            get_sequences("lasot", tmp_path, split=split)
    flat = tmp_path / "ext"
    _lasot_seq(flat / "atv-1", "0,0,0", "0,0,0")
    _lasot_seq(flat / "atv-2", "0,0,0", "0,0,0")
    (flat / "atv-1" / "groundtruth.txt").unlink()
    with pytest.raises(DatasetError, match=r"atv-1/groundtruth\.txt is missing"):
        get_sequences("lasot_extension_subset", flat)
