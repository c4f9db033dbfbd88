"""A training dataset's root given one folder off, as users pass them: the archive's top folder (one too high) or a
folder inside the root (one too low). The refusal names the folder to pass, not a download or extraction that
changes nothing (the files are all there)."""

from __future__ import annotations

import json

import pytest

from droptrack.data import get_sequences
from droptrack.errors import DatasetError
from helpers import img, text


def _coco(root):
    """A COCO root: annotations/instances_train2017.json with one instance, and train2017/ with its image."""
    text(root / "annotations" / "instances_train2017.json", json.dumps({
        "images": [{"id": 1, "file_name": "000000000001.jpg"}], "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": 7, "image_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 0, "category_id": 1}]}))
    img(root / "train2017" / "000000000001.jpg")
    return root


def test_coco_root_one_folder_off_names_the_root_to_pass(tmp_path):
    coco = _coco(tmp_path / "data" / "coco")
    assert [s.name for s in get_sequences("coco", coco, split="train")] == ["coco_7"]
    ann = "annotations/instances_train2017.json"
    with pytest.raises(DatasetError) as err:   # the folder holding the extracted coco/ folder
        get_sequences("coco", tmp_path / "data", split="train")
    assert str(err.value) == (f"COCO annotation file {tmp_path / 'data' / ann} is missing, but {coco / ann} is there; "
                              f"point the root at {coco}")
    for inner in ("train2017", "annotations"):   # a folder inside the root: it said to extract the annotations there
        with pytest.raises(DatasetError) as err:
            get_sequences("coco", coco / inner, split="train")
        assert str(err.value) == (f"COCO annotation file {coco / inner / ann} is missing; '{coco / inner}' is a folder "
                                  f"inside the COCO root; point the root at {coco}, the folder holding annotations/ "
                                  "and train2017/")
    with pytest.raises(DatasetError) as err:   # nothing there at all: the annotations are to be extracted
        get_sequences("coco", tmp_path, split="train")
    assert str(err.value).endswith("is missing; extract annotations_trainval2017.zip under the root")
