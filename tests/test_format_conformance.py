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


def _lasot_ext_sequence(folder) -> None:
    """A two-frame LaSOT-extension sequence: groundtruth.txt, full_occlusion.txt and out_of_view.txt (one line
    each, comma-separated), img/00000001.jpg ..."""
    from helpers import img

    for i in (1, 2):
        img(folder / "img" / f"{i:08d}.jpg")
    text(folder / "groundtruth.txt", "1,2,3,4\n1,2,3,4\n")
    text(folder / "full_occlusion.txt", "0,0")
    text(folder / "out_of_view.txt", "0,1")


def test_lasot_extension_root_without_sequences_names_its_layout_and_the_folder_below(tmp_path):
    """A LaSOT-extension root holding no <class>/<class>-<n>/ said 'has no sequences; check the root (its list.txt /
    annotation folder)', a fix for other datasets; it now names the layout, or the folder one down that holds it."""
    _lasot_ext_sequence(tmp_path / "LaSOT_extension_subset" / "atv" / "atv-1")
    with pytest.raises(DatasetError) as err:
        get_sequences("lasot_extension_subset", tmp_path)
    assert str(err.value) == (f"no LaSOT-extension sequence (<class>/<class>-<n>/ with groundtruth.txt and img/, "
                              f"such as atv/atv-1/) under {tmp_path}; they are one folder down: point the root at "
                              f"{tmp_path / 'LaSOT_extension_subset'}")
    (s,) = get_sequences("lasot_extension_subset", tmp_path / "LaSOT_extension_subset")
    assert s.name == "atv-1" and s.visible.tolist() == [True, False] and s.dataset == "lasot_extension_subset"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"under .*empty; point the root at the folder that holds the <class>/"):
        get_sequences("lasot_extension_subset", empty)
