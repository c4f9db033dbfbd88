"""Dataset roots and sequence filters as a user with the official layouts meets them: a name given twice, a LaSOT
training sequence asked for on the test split, a root one level off, DT_DATA holding a dataset under its own
spelling, a symlinked root."""

from __future__ import annotations

from pathlib import Path

import pytest

from droptrack.data import get_sequences
from droptrack.errors import DatasetError

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def _lasot(root: Path, *names: str) -> Path:
    for name in names:
        seq = root / name.rsplit("-", 1)[0] / name
        seq.mkdir(parents=True)
        (seq / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n")
        for flags in ("full_occlusion.txt", "out_of_view.txt"):
            (seq / flags).write_text("0,0\n")
    return root


def test_a_name_given_twice_is_one_sequence(tmp_path: Path) -> None:
    root = _lasot(tmp_path / "lasot", "bird-2", "bird-3")
    seqs = get_sequences("lasot", root, split="all", names=["bird-3", "bird-2", "bird-3"])
    assert [s.name for s in seqs] == ["bird-3", "bird-2"]


def test_a_training_sequence_on_the_test_split_names_the_split(tmp_path: Path) -> None:
    root = _lasot(tmp_path / "lasot", "bird-1", "bird-2")   # LaSOT's test split holds bird-2, 3, 15, 17
    with pytest.raises(DatasetError, match=r"'bird-1' is a LaSOT training sequence.*--split train"):
        get_sequences("lasot", root, names=["bird-2", "bird-1"])
    assert [s.name for s in get_sequences("lasot", root, split="train", names=["bird-1"])] == ["bird-1"]


def test_a_root_one_level_above_the_sequences_is_named_once(tmp_path: Path) -> None:
    _lasot(tmp_path / "LaSOTBenchmark", "bird-2")
    with pytest.raises(DatasetError, match=r"no LaSOT test sequence under .*; point the root at .*LaSOTBenchmark$"):
        get_sequences("lasot", tmp_path)
    assert [s.name for s in get_sequences("lasot", tmp_path / "LaSOTBenchmark", names=["bird-2"])] == ["bird-2"]


def test_dt_data_holding_the_official_spelling_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "GOT-10k" / "val").mkdir(parents=True)
    monkeypatch.setenv("DT_DATA", str(tmp_path))
    with pytest.raises(DatasetError, match=rf"{tmp_path / 'got10k'} \(from DT_DATA\) does not exist, but "
                                           rf"{tmp_path / 'GOT-10k'} does; rename it to got10k, or set "
                                           rf"DT_DATA_GOT10K={tmp_path / 'GOT-10k'}"):
        get_sequences("got10k")


def test_a_symlinked_root_reads_as_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _lasot(tmp_path / "disk" / "LaSOT", "bird-2")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "lasot").symlink_to(real)
    monkeypatch.setenv("DT_DATA", str(tmp_path / "data"))
    [seq] = get_sequences("lasot", names=["bird-2"])
    assert seq.frames[0] == tmp_path / "data" / "lasot" / "bird" / "bird-2" / "img" / "00000001.jpg"
