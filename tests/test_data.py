"""Readers on tiny trees in the official layouts, and root/error handling. The synthetic benchmark generator:
test_data_synth.py."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences, load_boxes
from droptrack.errors import DatasetError
from helpers import img, text


pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def test_load_boxes_mixed_delimiters_and_errors(tmp_path):
    text(tmp_path / "gt.txt", "1,2,3,4\n5\t6\t7\t8\n9 10  11 12\nNaN,NaN,NaN,NaN\n\n")
    b = load_boxes(tmp_path / "gt.txt")
    assert b.shape == (4, 4) and b[2].tolist() == [9, 10, 11, 12] and np.isnan(b[3]).all()
    text(tmp_path / "bad.txt", "1,2,3,4\n1,2,x,4\n")
    with pytest.raises(DatasetError, match=r"bad\.txt:2"):
        load_boxes(tmp_path / "bad.txt")
    text(tmp_path / "short.txt", "1,2,3,4\n1,2,3\n")
    with pytest.raises(DatasetError, match=r"short\.txt:2"):
        load_boxes(tmp_path / "short.txt")


def test_got10k_train_and_test(tmp_path):
    tr = tmp_path / "train"
    for k, name in enumerate(["GOT-10k_Train_000001", "GOT-10k_Train_000002"]):
        for i in range(1, 4):
            img(tr / name / f"{i:08d}.jpg")
        text(tr / name / "groundtruth.txt", "1,2,5,6\n2,3,5,6\n3,4,0,0\n")
        text(tr / name / "absence.label", "0\n0\n1\n")
        text(tr / name / "cover.label", f"8\n{k}\n0\n")
        text(tr / name / "meta_info.ini", "[METAINFO]\nobject_class: cat\n")
    text(tr / "list.txt", "GOT-10k_Train_000001\nGOT-10k_Train_000002\n")
    seqs = get_sequences("got10k", tmp_path, split="train")
    assert [s.name for s in seqs] == ["GOT-10k_Train_000001", "GOT-10k_Train_000002"]
    assert seqs[0].visible.tolist() == [True, False, False] and seqs[1].visible.tolist() == [True, True, False]
    assert seqs[1].cover.tolist() == [8, 1, 0] and seqs[0].object_class == "cat"
    assert seqs[1].valid().tolist() == [True, True, False] and seqs[0].image_size == (16, 12)
    f = seqs[0].frame(1)
    assert f.shape == (12, 16, 3) and f.dtype == np.uint8 and f[..., 0].mean() > 150 > f[..., 2].mean()
    assert len(list(seqs[0].iter_frames())) == 3
    te = tmp_path / "test" / "GOT-10k_Test_000001"
    for i in range(1, 5):
        img(te / f"{i:08d}.jpg")
    text(te / "groundtruth.txt", "1,2,5,6\n")
    text(tmp_path / "test" / "list.txt", "GOT-10k_Test_000001\n")
    (s,) = get_sequences("got10k_test", tmp_path)
    assert len(s) == 4 and s.boxes[0].tolist() == [1, 2, 5, 6] and np.isnan(s.boxes[1:]).all() and s.visible is None


def _got10k_split(folder: Path, name: str, frames: int) -> None:
    """One sequence of `frames` frames in a GOT-10k split folder with its list.txt."""
    for i in range(1, frames + 1):
        img(folder / name / f"{i:08d}.jpg")
    text(folder / name / "groundtruth.txt", "1,2,5,6\n" * frames)
    text(folder / "list.txt", f"{name}\n")


def test_got10k_split_folder_root_is_read_as_its_own_split_only(tmp_path):
    """A root that is a split folder (got10k/val with list.txt) was read whatever split was asked for: --split test
    or got10k_test on it evaluated val under the test name. A mismatch is an error now; no split reads it as it is,
    the matching split too, and a top folder still selects its split folders."""
    _got10k_split(tmp_path / "val", "GOT-10k_Val_000001", 3)
    _got10k_split(tmp_path / "test", "GOT-10k_Test_000001", 4)
    val = tmp_path / "val"
    for dataset, split in (("got10k", "test"), ("got10k", "TRAIN"), ("got10k_test", None)):
        with pytest.raises(DatasetError, match=r"split (test|train) was asked for, but .*val is the val split folder"):
            get_sequences(dataset, val, split=split)
    for dataset, split in (("got10k", None), ("got10k", "val"), ("got10k_val", None)):
        assert [s.name for s in get_sequences(dataset, val, split=split)] == ["GOT-10k_Val_000001"]
    (t,) = get_sequences("got10k", tmp_path / "test")   # no split asked: the folder's own (not the default val)
    assert t.name == "GOT-10k_Test_000001" and len(t) == 4
    assert [s.name for s in get_sequences("got10k", tmp_path, split="test")] == ["GOT-10k_Test_000001"]
    other = tmp_path / "my_subset"   # a split folder of another name cannot tell its split: read as asked
    _got10k_split(other, "GOT-10k_Val_000002", 3)
    assert [s.name for s in get_sequences("got10k", other, split="test")] == ["GOT-10k_Val_000002"]
    from droptrack.eval.bench_data import _read   # dt bench --data FOLDER reads a split folder as it is
    kind, tag, (b,) = _read(str(tmp_path / "test"), None, tmp_path / "out", None, None)
    assert (kind, tag, b.name) == ("folder", "got10k", "GOT-10k_Test_000001")


def test_int8_calibration_on_a_got10k_split_folder_reads_it_as_it_is(tmp_path):
    """dt export --calib got10k:ROOT asks for the train split; a split folder given as ROOT (got10k/val) is what the
    user chose to calibrate on, so it is read as it is, not refused as a split mismatch."""
    from droptrack.config import load_config, meta_from_config
    from droptrack.export.calibration import calibration_pairs

    val = tmp_path / "got10k" / "val"
    for i in range(1, 9):
        img(val / "GOT-10k_Val_000001" / f"{i:08d}.jpg", (20 * i, 90, 160), (128, 96))
    text(val / "GOT-10k_Val_000001" / "groundtruth.txt", "40,30,30,30\n" * 8)
    text(val / "list.txt", "GOT-10k_Val_000001\n")
    pairs, used = calibration_pairs(meta_from_config(load_config("tiny_ce_test"), arch="droptrack"), f"got10k:{val}", 8)
    assert len(pairs) == 8 and used == f"dataset got10k:{val}"


def test_got10k_malformed_tree_and_corrupt_frame(tmp_path):
    text(tmp_path / "val" / "list.txt", "GOT-10k_Val_000001\n")
    with pytest.raises(DatasetError, match="GOT-10k_Val_000001"):
        get_sequences("got10k", tmp_path, split="val")
    seq = tmp_path / "val" / "GOT-10k_Val_000001"
    text(seq / "groundtruth.txt", "1,2,3,4\n1,2,3,4\n")
    text(seq / "absence.label", "0\n")
    with pytest.raises(DatasetError, match=r"absence\.label"):
        get_sequences("got10k", tmp_path, split="val")
    (seq / "absence.label").unlink()
    text(seq / "00000001.jpg", "not a jpeg")
    (s,) = get_sequences("got10k", tmp_path, split="val")
    with pytest.raises(DatasetError, match="00000001.jpg"):
        s.frame(0)
    with pytest.raises(DatasetError, match="00000002.jpg"):
        s.frame(1)


def _lasot_seq(folder: Path, occ: str, oov: str) -> None:
    for i in range(1, 4):
        img(folder / "img" / f"{i:08d}.jpg")
    text(folder / "groundtruth.txt", "1,2,5,6\n2,3,5,6\n3,4,5,6\n")
    text(folder / "full_occlusion.txt", occ)
    text(folder / "out_of_view.txt", oov)


def test_lasot_visibility_and_splits(tmp_path):
    _lasot_seq(tmp_path / "airplane" / "airplane-1", "0,1,0", "0,0,1")
    _lasot_seq(tmp_path / "airplane" / "airplane-2", "0,0,0", "0,0,0")
    (s,) = get_sequences("lasot", tmp_path, names=["airplane-1"])
    assert s.visible.tolist() == [True, False, False] and s.object_class == "airplane"
    assert s.frames[2].name == "00000003.jpg" and s.dataset == "lasot"
    assert [x.name for x in get_sequences("lasot", tmp_path, split="train")] == ["airplane-2"]
    with pytest.raises(DatasetError, match="airplane-9"):  # in the test list but not extracted
        get_sequences("lasot", tmp_path)
    with pytest.raises(DatasetError, match="did you mean"):
        get_sequences("lasot", tmp_path, names=["airplane-100"])
    from droptrack.data.lasot import test_names

    names = test_names()
    assert len(names) == len(set(names)) == 280 and len({n.rsplit("-", 1)[0] for n in names}) == 70
    flat = tmp_path / "ext"
    _lasot_seq(flat / "atv-1", "0,0,0", "1,1,0")
    (e,) = get_sequences("lasot_extension_subset", flat)
    assert e.dataset == "lasot_extension_subset" and e.visible.tolist() == [False, False, True]
    text(flat / "atv-1" / "out_of_view.txt", "0,0")
    with pytest.raises(DatasetError, match="out_of_view.txt"):
        get_sequences("lasot_extension_subset", flat)


def test_trackingnet(tmp_path):
    for chunk, rows in (("TEST", "1,2,3,4\n"), ("TRAIN_0", "1,2,3,4\n1,2,3,4\n1,2,3,4\n")):
        for i in range(3):
            img(tmp_path / chunk / "frames" / "abc" / f"{i}.jpg")
        text(tmp_path / chunk / "anno" / "abc.txt", rows)
    (t,) = get_sequences("trackingnet", tmp_path)
    assert len(t) == 3 and t.frames[0].name == "0.jpg" and np.isnan(t.boxes[1]).all()
    (tr,) = get_sequences("trackingnet", tmp_path, split="train")
    assert np.isfinite(tr.boxes).all() and tr.frames[2].name == "2.jpg"


def test_otb_irregular(tmp_path):
    text(tmp_path / "Basketball" / "groundtruth_rect.txt", "1,2,3,4\n1\t2\t3\t4\n")
    img(tmp_path / "Basketball" / "img" / "0001.jpg")
    text(tmp_path / "Tiger1" / "groundtruth_rect.txt", "".join(f"{i},1,5,5\n" for i in range(354)))   # official rows
    img(tmp_path / "Tiger1" / "img" / "0006.jpg")
    text(tmp_path / "David" / "groundtruth_rect.txt", "".join(f"{i} 2 3 4\n" for i in range(471)))   # 300..770
    img(tmp_path / "David" / "img" / "0300.jpg")
    text(tmp_path / "Board" / "groundtruth_rect.txt", "1,2,3,4\n")
    img(tmp_path / "Board" / "img" / "00001.jpg")
    for k in (1, 2):
        text(tmp_path / "Jogging" / f"groundtruth_rect.{k}.txt", f"{k},2,3,4\n")
    img(tmp_path / "Jogging" / "img" / "0001.jpg")
    text(tmp_path / "KiteSurf" / "groundtruth_rect.txt", "1,2,3,4\n")
    img(tmp_path / "KiteSurf" / "img" / "0001.png")
    seqs = {s.name: s for s in get_sequences("otb", tmp_path)}
    assert sorted(seqs) == ["Basketball", "Board", "David", "Jogging_1", "Jogging_2", "KiteSurf", "Tiger1"]
    tiger = seqs["Tiger1"]
    assert len(tiger) == 349 and tiger.frames[0].name == "0006.jpg" and tiger.boxes[0, 0] == 5
    assert tiger.frames[-1].name == "0354.jpg" and tiger.boxes[-1, 0] == 353
    david = seqs["David"]
    assert [p.name for p in david.frames[:2]] == ["0300.jpg", "0301.jpg"] and david.frames[-1].name == "0770.jpg"
    assert len(david) == 471 and david.boxes[-1, 0] == 470
    assert seqs["Board"].frames[0].name == "00001.jpg" and seqs["KiteSurf"].frames[0].suffix == ".png"
    assert seqs["Jogging_2"].boxes[0, 0] == 2 and seqs["Jogging_1"].frames[0].parent.parent.name == "Jogging"


@pytest.mark.parametrize("name, rows, expected, first, last", [
    ("Tiger1", 349, 354, "0001", "0354"),    # pysot's Tiger1 (first 5 rows left out) written as groundtruth_rect.txt
    ("David", 470, 471, "0300", "0770"), ("BlurCar1", 743, 742, "0247", "0988"), ("BlurCar3", 3, 357, "0003", "0359"),
    ("BlurCar4", 378, 380, "0018", "0397")])
def test_otb_shifted_sequence_with_other_row_count_is_refused(tmp_path, name, rows, expected, first, last):
    """Boxes of a shifted sequence pair with images by position from its first image: a file with other rows than
    the official one was read with the shorter length and paired boxes with the wrong images (Tiger1 from pysot's
    349 rows: image 0006 got the box of image 0011)."""
    text(tmp_path / name / "groundtruth_rect.txt", "".join(f"{i},1,5,5\n" for i in range(rows)))
    img(tmp_path / name / "img" / f"{int(first) + (5 if name == 'Tiger1' else 0):04d}.jpg")
    gt = tmp_path / name / "groundtruth_rect.txt"
    with pytest.raises(DatasetError) as err:
        get_sequences("otb", tmp_path)
    assert str(err.value) == (f"OTB {name}: {gt} has {rows} rows, the official file has {expected} (one per image "
                              f"{first}..{last}), so its boxes would not line up with the images; put back the "
                              f"official OTB-2015 groundtruth_rect.txt of {name}")


def test_official_layout_quirks(tmp_path):
    """Facts of the official downloads the readers must keep (got10k toolkit / pytracking): OTB's Human4 ships an
    empty groundtruth_rect.1.txt (only Human4_2 is a sequence); BlurCar1's images start at 0247.jpg; TrackingNet
    frames are 0.jpg .. N.jpg in numeric order (10.jpg after 9.jpg); NfS 30/ files one row longer than the
    images are trimmed, two rows longer is an error."""
    otb = tmp_path / "otb"
    text(otb / "Human4" / "groundtruth_rect.1.txt", "")
    text(otb / "Human4" / "groundtruth_rect.2.txt", "1,2,3,4\n5,6,7,8\n")
    text(otb / "BlurCar1" / "groundtruth_rect.txt", "9\t8\t7\t6\n5\t4\t3\t2\n" * 371)   # 742 rows: 247..988
    for i in (1, 2):
        img(otb / "Human4" / "img" / f"{i:04d}.jpg")
    for i in (1, 247, 248):
        img(otb / "BlurCar1" / "img" / f"{i:04d}.jpg")
    car, human = get_sequences("otb", otb)
    assert human.name == "Human4_2" and human.boxes[1].tolist() == [5, 6, 7, 8]
    assert [p.name for p in car.frames[:2]] == ["0247.jpg", "0248.jpg"] and car.boxes[0].tolist() == [9, 8, 7, 6]
    tn = tmp_path / "trackingnet"
    for i in range(12):
        img(tn / "TEST" / "frames" / "vid_0" / f"{i}.jpg")
    text(tn / "TEST" / "anno" / "vid_0.txt", "1.5,2,30,40\n")
    (t,) = get_sequences("trackingnet", tn)
    assert len(t) == 12 and t.frames[2].name == "2.jpg" and t.frames[10].name == "10.jpg"
    nfs = tmp_path / "nfs"
    for i in (1, 2):
        img(nfs / "ball" / "30" / "ball" / f"{i:05d}.jpg")
    text(nfs / "ball" / "30" / "ball.txt", "".join(f"1 {i} 5 {i + 10} 25 {i} 0 0 0 \"ball\"\n" for i in range(3)))
    (n,) = get_sequences("nfs", nfs)
    assert len(n) == 2 and n.boxes.tolist() == [[0, 5, 10, 20], [1, 5, 10, 20]]
    text(nfs / "ball" / "30" / "ball.txt", "1 0 5 10 25 0 0 0 0 \"ball\"\n" * 4)
    with pytest.raises(DatasetError, match=r"ball\.txt: 4 boxes for 2 images"):
        get_sequences("nfs", nfs)


def test_uav_nfs_tnl2k(tmp_path):
    uav = tmp_path / "uav"
    text(uav / "anno" / "UAV123" / "bird1_2.txt", "1,2,3,4\nNaN,NaN,NaN,NaN\n")
    text(uav / "anno" / "UAV123" / "car1_s.txt", "1,2,3,4\n")
    (uav / "data_seq" / "UAV123" / "bird1").mkdir(parents=True)
    (uav / "data_seq" / "UAV123" / "car1_s").mkdir(parents=True)
    b, c = get_sequences("uav", uav)
    assert b.name == "uav_bird1_2" and [p.name for p in b.frames] == ["000775.jpg", "000776.jpg"]
    assert np.isnan(b.boxes[1]).all() and c.frames[0].name == "000001.jpg"
    # pytracking/OSTrack name UAV123 sequences uav_<anno stem> (result file uav_bird1_2.txt); bare stems select too
    assert c.name == "uav_car1_s"
    assert [s.name for s in get_sequences("uav", uav, names=["car1_s", "uav_bird1_2"])] == ["uav_car1_s",
                                                                                          "uav_bird1_2"]
    with pytest.raises(DatasetError, match="bird1_3"):
        get_sequences("uav", uav, names=["bird1_3"])
    nfs = tmp_path / "nfs"
    text(nfs / "anno" / "nfs_Gymnastics.txt", "1\t2\t3\t4\n5\t6\t7\t8\n")
    for i in range(1, 4):
        img(nfs / "sequences" / "Gymnastics" / f"{i:05d}.jpg")
    (n,) = get_sequences("nfs", nfs)
    assert n.name == "nfs_Gymnastics" and len(n) == 2 and n.boxes[1, 3] == 8
    off = tmp_path / "nfs_off"
    text(off / "Bee" / "30" / "Bee.txt", "".join(f"1 {i} 10 {i + 5} 20 {i} 0 0 0 \"bee\"\n" for i in range(16)))
    img(off / "Bee" / "30" / "Bee" / "00001.jpg")
    img(off / "Bee" / "30" / "Bee" / "00002.jpg")
    (o,) = get_sequences("nfs", off)
    assert len(o) == 2 and o.boxes[1].tolist() == [8, 10, 5, 10]
    tn = tmp_path / "tnl2k"
    text(tn / "Cartoon_1" / "groundtruth.txt", "1,2,3,4\n1,2,3,4\n")
    img(tn / "Cartoon_1" / "imgs" / "00002.png")
    img(tn / "Cartoon_1" / "imgs" / "00001.png")
    (t,) = get_sequences("tnl2k", tn)
    assert [p.name for p in t.frames] == ["00001.png", "00002.png"]
    img(tn / "Cartoon_1" / "imgs" / "00003.png")             # an extra image past the last box: never scored
    (t,) = get_sequences("tnl2k", tn)
    assert [p.name for p in t.frames] == ["00001.png", "00002.png"] and len(t.boxes) == 2
    text(tn / "Cartoon_1" / "groundtruth.txt", "1,2,3,4\n" * 4)   # more boxes than images: an error
    with pytest.raises(DatasetError, match="groundtruth.txt"):
        get_sequences("tnl2k", tn)


def test_tnl2k_known_damaged_frame_says_how_to_fix_it(tmp_path):
    """Older TNL2K downloads hold an undecodable test_015_Sord_video_Q01_done/imgs/00000492.png: the error said only
    're-download it'; now it names the known damage and its fixes. Other undecodable frames keep the generic error."""
    import shutil

    tn = tmp_path / "tnl2k"
    for seq in ("test_015_Sord_video_Q01_done", "Cartoon_1"):   # frames 1..492, the last one damaged
        text(tn / seq / "groundtruth.txt", "1,2,3,4\n" * 492)
        img(tn / seq / "imgs" / "00000001.png")
        for k in range(2, 492):
            shutil.copyfile(tn / seq / "imgs" / "00000001.png", tn / seq / "imgs" / f"{k:08d}.png")
        (tn / seq / "imgs" / "00000492.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)   # cut short
    damaged, other = sorted(get_sequences("tnl2k", tn), key=lambda s: s.name != "test_015_Sord_video_Q01_done")
    assert damaged.frame(490).shape == (12, 16, 3)
    for read in (lambda: damaged.frame(491), lambda: list(damaged.iter_frames())):
        with pytest.raises(DatasetError) as exc:
            read()
        msg = str(exc.value)
        assert "00000492.png cannot be decoded" in msg and "known damaged" in msg and "\n" not in msg
        assert "TNL2K_evaluation_toolkit" in msg and "copy of 00000491.png" in msg
    with pytest.raises(DatasetError, match=r"00000492.png cannot be decoded \(corrupt or not an image\); re-down"):
        other.frame(491)


def test_coco_folder_video(tmp_path):
    coco = tmp_path / "coco"
    ann = {"images": [{"id": 7, "file_name": "000000000007.jpg"}], "categories": [{"id": 1, "name": "dog"}],
           "annotations": [{"id": 11, "image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 0},
                           {"id": 12, "image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 1}]}
    text(coco / "annotations" / "instances_train2017.json", json.dumps(ann))
    (coco / "train2017").mkdir()
    (s,) = get_sequences("coco", coco)
    assert s.name == "coco_11" and s.object_class == "dog" and s.frames[0].parent.name == "train2017"
    fold = tmp_path / "clip"
    for i in range(3):
        img(fold / f"{i:04d}.jpg")
    text(fold / "groundtruth.txt", "1,2,3,4\n1,2,3,4\n")   # a frame without its row: refused (README)
    with pytest.raises(DatasetError, match="has 3 images but 2 GT rows"):
        get_sequences("folder", fold)
    text(fold / "groundtruth.txt", "1,2,3,4\n1,2,3,4\nNaN,NaN,NaN,NaN\n")
    (f,) = get_sequences("folder", fold)
    assert len(f) == 3 and f.dataset == "folder"
    vid = tmp_path / "v" / "walk.avi"
    vid.parent.mkdir()
    w = cv2.VideoWriter(str(vid), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(4):
        w.write(np.full((24, 32, 3), 60 * i, np.uint8))
    w.release()
    text(vid.with_suffix(".txt"), "1,2,3,4\n" * 3)   # a frame without its row: refused, as for a frames folder
    with pytest.raises(DatasetError, match="has 4 frames but .* has 3 box rows"):
        get_sequences("video", vid)
    text(vid.with_suffix(".txt"), "1,2,3,4\n" * 3 + "NaN,NaN,NaN,NaN\n")
    (v,) = get_sequences("video", vid)
    assert len(v) == 4 and v.image_size == (32, 24) and len(list(v.iter_frames())) == 4
    assert v.frame(2).shape == (24, 32, 3)


def test_folder_unpadded_frame_numbers_in_frame_order(tmp_path):
    """Frames named 0.jpg .. 11.jpg (TrackingNet-style, no zero padding) are read in frame order, not as text."""
    for i in range(12):
        img(tmp_path / "clip" / f"{i}.jpg", color=(i * 20, 0, 0))
    text(tmp_path / "clip" / "groundtruth.txt", "1,2,3,4\n" * 12)
    (f,) = get_sequences("folder", tmp_path / "clip")
    assert [p.name for p in f.frames] == [f"{i}.jpg" for i in range(12)]
    for i in (1, 2, 10):   # frame 2 is 2.jpg, not 10.jpg
        img(tmp_path / "pad" / "img" / f"{i:04d}.jpg")
    (p,) = get_sequences("folder", tmp_path / "pad")
    assert [q.name for q in p.frames] == ["0001.jpg", "0002.jpg", "0010.jpg"]


def test_roots_and_names(tmp_path, monkeypatch):
    with pytest.raises(DatasetError, match="DT_DATA_LASOT"):
        get_sequences("lasot")
    with pytest.raises(DatasetError, match="does not exist"):
        get_sequences("otb", tmp_path / "nope")
    with pytest.raises(DatasetError, match=r"valid names: lasot, "):
        get_sequences("lasott")
    text(tmp_path / "otb" / "Deer" / "groundtruth_rect.txt", "1,2,3,4\n")
    img(tmp_path / "otb" / "Deer" / "img" / "0001.jpg")
    monkeypatch.setenv("DT_DATA", str(tmp_path))
    assert get_sequences("otb")[0].name == "Deer"
    monkeypatch.setenv("DT_DATA_OTB", str(tmp_path / "missing"))
    with pytest.raises(DatasetError, match="DT_DATA_OTB"):
        get_sequences("otb")


def test_no_root_error_names_the_option_and_variable(no_data_env, tiny_ckpt, tmp_path):
    """'no root for lasot: pass the dataset root' did not say how: each command names its own way to give one, and
    the environment variable the registry reads (DT_DATA_LASOT); dt export --val takes no root, so only the variable."""
    from droptrack.export.calibration import check_calib_source
    from droptrack.train.data import load_datasets
    from helpers import cli, one_line_error

    line = one_line_error(cli("eval", "--dataset", "lasot", "-m", tiny_ckpt, "-o", tmp_path / "r"))
    assert "no root for lasot: pass --root DIR, or set the environment variable DT_DATA_LASOT=DIR" in line
    with pytest.raises(DatasetError, match="pass --calib lasot:DIR, or set the environment variable DT_DATA_LASOT"):
        check_calib_source("lasot")
    with pytest.raises(DatasetError, match="pass --data LASOT=DIR, or set the environment variable DT_DATA_LASOT"):
        load_datasets(["LASOT"], {})
    line = one_line_error(cli("export", tiny_ckpt, "--int8", "--auto-precision", "--val", "lasot",
                              "-o", tmp_path / "e"))
    assert "no root for lasot: set the environment variable DT_DATA_LASOT=DIR" in line and "--root" not in line


def test_an_unknown_sequence_with_no_close_name_is_answered_with_names_that_exist():
    """The hint shows how the dataset's names look, not a command that does not exist."""
    from droptrack.data.sequence import select

    with pytest.raises(DatasetError, match=r"its 4 sequences are named like car-1, car-2, dog-1, \.\.\.$"):
        select(["car-1", "car-2", "dog-1", "dog-2"], ["zzzzzzzz"], "lasot")
    with pytest.raises(DatasetError, match="holds no sequence"):
        select([], ["car-1"], "lasot")

