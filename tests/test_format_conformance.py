"""On-disk layouts of the reference spec (ostrack_spec.md §5.5, §6.1, §6.2), each built by hand in its real-world
form, read or written as the official tools do; a layout that cannot be read is one line naming it and the fix."""

from __future__ import annotations

import json

import pytest

from droptrack.data import get_sequences
from droptrack.errors import DatasetError
from helpers import text

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def _coco_annotations(root) -> None:
    """instances_train2017.json with one plain and one crowd annotation of one image."""
    ann = {"images": [{"id": 7, "file_name": "000000000007.jpg", "width": 16, "height": 12}],
           "categories": [{"id": 1, "name": "dog"}],
           "annotations": [{"id": 11, "image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 0},
                           {"id": 12, "image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 1}]}
    text(root / "annotations" / "instances_train2017.json", json.dumps(ann))


@pytest.mark.parametrize("images", ["train2017", "images/train2017"])
def test_coco_images_where_droptrack_or_ostrack_keep_them(tmp_path, images):
    """DropTrack reads <coco>/train2017/, OSTrack <coco>/images/train2017/ (spec §0.1); crowd boxes are left out."""
    _coco_annotations(tmp_path)
    (tmp_path / images).mkdir(parents=True)
    (s,) = get_sequences("coco", tmp_path)
    assert s.frames[0] == tmp_path / images / "000000000007.jpg" and s.boxes.tolist() == [[1, 2, 3, 4]]


def test_coco_without_its_image_folder_is_refused_at_once(tmp_path):
    """Annotations extracted but not train2017.zip: every image was 'missing' one by one, only once training drew
    it; now one line names both places the images may be and the archive to extract."""
    _coco_annotations(tmp_path)
    with pytest.raises(DatasetError) as err:
        get_sequences("coco", tmp_path)
    assert str(err.value) == (f"COCO image folder {tmp_path / 'train2017'} (or {tmp_path / 'images' / 'train2017'}) "
                              "is missing; extract train2017.zip under the root")
