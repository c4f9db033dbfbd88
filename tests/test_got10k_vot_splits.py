"""GOT10K_vottrain / GOT10K_votval, the training recipe's GOT-10k sets (ostrack_spec.md 5.5: 7086 and 1249
sequences), are the official index files applied to train/list.txt; they were approximated by all of train (9335,
which holds the validation sequences) and the official val split (180 other sequences)."""

from __future__ import annotations

import pytest

from droptrack.data import get_sequences
from droptrack.data.got10k import vot_split_names
from droptrack.errors import DatasetError
from droptrack.train.data import load_datasets
from helpers import img, text

NAMES = [f"GOT-10k_Train_{i:06d}" for i in range(1, 9336)]


def _train(root, listed=NAMES, folders=()):
    """A GOT-10k root whose train/list.txt lists `listed`; only `folders` exist (a box and one frame each)."""
    text(root / "train" / "list.txt", "\n".join(listed) + "\n")
    for name in folders:
        text(root / "train" / name / "groundtruth.txt", "1,2,3,4\n")
        img(root / "train" / name / "00000001.jpg")


def test_the_vot_splits_are_the_official_subsets_of_train(tmp_path):
    _train(tmp_path)
    train, val = vot_split_names(tmp_path, "vottrain"), vot_split_names(tmp_path, "votval")
    assert (len(train), len(val), len(set(train) | set(val))) == (7086, 1249, 8335)   # disjoint; 1000 left out
    # the first and last lines of the official files are 3784 ... and 1349, 5878 ... (0-based list.txt indices)
    assert train[0] == "GOT-10k_Train_003785" and val[:2] == ["GOT-10k_Train_001350", "GOT-10k_Train_005879"]


def test_training_reads_the_vot_subsets_from_the_train_folder(tmp_path):
    _train(tmp_path, folders=["GOT-10k_Train_001350", "GOT-10k_Train_005879"])
    seqs = get_sequences("got10k", tmp_path, split="votval", names=["GOT-10k_Train_005879", "GOT-10k_Train_001350"])
    assert [s.name for s in seqs] == ["GOT-10k_Train_005879", "GOT-10k_Train_001350"]
    with pytest.raises(DatasetError) as err:   # the recipe's validation set: every votval sequence needs its folder
        load_datasets(["GOT10K_votval"], {"got10k": str(tmp_path)})
    assert str(err.value).endswith("have no folder (GOT-10k_Train_000563, GOT-10k_Train_002203, GOT-10k_Train_008905, "
                                   "GOT-10k_Train_001502, GOT-10k_Train_008655, ...); re-extract the split")


def test_a_partial_train_split_is_refused_in_one_line(tmp_path):
    _train(tmp_path, listed=NAMES[:100])
    with pytest.raises(DatasetError) as err:
        load_datasets(["GOT10K_vottrain"], {"got10k": str(tmp_path)})
    assert str(err.value) == (f"GOT-10k vottrain is a fixed subset of the official 9335-sequence train split (indices "
                              f"into its list.txt), and {tmp_path / 'train' / 'list.txt'} lists 100; extract the whole "
                              "train split, or train on GOT10K_train_full (every train sequence there)")
