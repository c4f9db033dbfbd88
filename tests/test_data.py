"""Readers on tiny trees in the official layouts, root/error handling, and the synthetic benchmark generator."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences, load_boxes
from droptrack.data.synth import ensure_synth, generate_synth, synth_sequence
from droptrack.data import synth_render
from droptrack.data.synth_render import TRAIN_PHOTOS, VAL_PHOTOS, cover_label
from droptrack.errors import DatasetError, InputError


def img(path: Path, color=(200, 30, 10), size=(16, 12)) -> None:
    """A small solid RGB image (written as BGR by OpenCV)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((size[1], size[0], 3), color[::-1], np.uint8))


def text(path: Path, body: str) -> None:
    """Write a text file, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    """Tests never see the developer's dataset roots."""
    import os

    for k in [k for k in os.environ if k.startswith("DT_DATA")]:
        monkeypatch.delenv(k)


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
    text(tmp_path / "Tiger1" / "groundtruth_rect.txt", "".join(f"{i},1,5,5\n" for i in range(8)))
    img(tmp_path / "Tiger1" / "img" / "0006.jpg")
    text(tmp_path / "David" / "groundtruth_rect.txt", "1 2 3 4\n1 2 3 4\n")
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
    assert len(tiger) == 3 and tiger.frames[0].name == "0006.jpg" and tiger.boxes[0, 0] == 5
    assert [p.name for p in seqs["David"].frames] == ["0300.jpg", "0301.jpg"]
    assert seqs["Board"].frames[0].name == "00001.jpg" and seqs["KiteSurf"].frames[0].suffix == ".png"
    assert seqs["Jogging_2"].boxes[0, 0] == 2 and seqs["Jogging_1"].frames[0].parent.parent.name == "Jogging"


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


def test_coco_folder_video(tmp_path):
    coco = tmp_path / "coco"
    ann = {"images": [{"id": 7, "file_name": "000000000007.jpg"}], "categories": [{"id": 1, "name": "dog"}],
           "annotations": [{"id": 11, "image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 0},
                           {"id": 12, "image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 1}]}
    text(coco / "annotations" / "instances_train2017.json", json.dumps(ann))
    (s,) = get_sequences("coco", coco)
    assert s.name == "coco_11" and s.object_class == "dog" and s.frames[0].parent.name == "train2017"
    fold = tmp_path / "clip"
    for i in range(3):
        img(fold / f"{i:04d}.jpg")
    text(fold / "groundtruth.txt", "1,2,3,4\n1,2,3,4\n")
    (f,) = get_sequences("folder", fold)
    assert len(f) == 2 and f.dataset == "folder"
    vid = tmp_path / "v" / "walk.avi"
    vid.parent.mkdir()
    w = cv2.VideoWriter(str(vid), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(4):
        w.write(np.full((24, 32, 3), 60 * i, np.uint8))
    w.release()
    text(vid.with_suffix(".txt"), "1,2,3,4\n" * 3)
    (v,) = get_sequences("video", vid)
    assert len(v) == 3 and v.image_size == (32, 24) and len(list(v.iter_frames())) == 3
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


def test_synth_determinism_and_layout(tmp_path):
    a = generate_synth(tmp_path / "a", 2, 6, seed=3)
    b = generate_synth(tmp_path / "b", 2, 6, seed=3)
    c = generate_synth(tmp_path / "c", 2, 6, seed=4)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    f1 = a / "synth_train_00001" / "00000003.jpg"
    assert f1.read_bytes() != (c / "synth_train_00001" / "00000003.jpg").read_bytes()
    assert (a / "list.txt").read_text().split() == ["synth_train_00001", "synth_train_00002"]
    seqs = get_sequences("synth", a)
    mem = synth_sequence(1, 6, 3)
    np.testing.assert_allclose(seqs[1].boxes, mem.boxes, atol=1e-4)
    assert seqs[1].cover.tolist() == mem.cover.tolist() and seqs[0].image_size == (320, 240)
    assert seqs[0].visible[0] and ((mem.absence == 1) == (mem.cover == 0)).all()


def test_killed_synth_run_resumes_after_the_sequences_it_finished(tmp_path, monkeypatch):
    """A run killed after 2 of 4 sequences, started again with the same parameters, writes only the other 2 and
    ends byte-identical to an uninterrupted run; with other parameters nothing is reused."""
    from droptrack.data import synth

    whole = generate_synth(tmp_path / "whole", 4, 5, seed=3)
    real_write, made = synth._write_sequence, []

    def killed_after_two(folder, seq, ext):
        if len(made) == 2:
            raise KeyboardInterrupt
        made.append(folder.name)
        real_write(folder, seq, ext)

    monkeypatch.setattr(synth, "_write_sequence", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        generate_synth(tmp_path / "cut", 4, 5, seed=3)
    monkeypatch.setattr(synth, "_write_sequence", lambda folder, seq, ext: (made.append(folder.name),
                                                                            real_write(folder, seq, ext)))
    made.clear()
    cut = generate_synth(tmp_path / "cut", 4, 5, seed=3)
    assert made == ["synth_train_00003", "synth_train_00004"]
    files = sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(cut) for p in cut.rglob("*") if p.is_file())   # progress file gone
    assert all((whole / f).read_bytes() == (cut / f).read_bytes() for f in files)
    made.clear()
    monkeypatch.setattr(synth, "_write_sequence", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        generate_synth(tmp_path / "other", 4, 5, seed=3)
    made.clear()
    monkeypatch.setattr(synth, "_write_sequence", lambda folder, seq, ext: (made.append(folder.name),
                                                                            real_write(folder, seq, ext)))
    generate_synth(tmp_path / "other", 4, 5, seed=4)                     # another seed: every sequence again
    assert len(made) == 4


def test_synth_box_matches_pixels():
    seen_occlusion = seen_exit = False
    for idx in range(6):
        with_t = synth_sequence(idx, 24, seed=1, keep_masks=True)
        without = synth_sequence(idx, 24, seed=1, draw_target=False)
        for t, (fa, fb, box, m) in enumerate(zip(with_t.frames, without.frames, with_t.boxes, with_t.target_masks)):
            if not m.any():
                assert box.tolist() == [0, 0, 0, 0] and with_t.absence[t] == 1
                seen_exit = True
                continue
            ys, xs = np.nonzero(m)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            diff = np.abs(fa.astype(int) - fb.astype(int)).max(axis=2) > 12
            x, y, w, h = box.astype(int)
            r = 1 + (with_t.blur[t] // 2 + 1 if with_t.blur[t] else 0)  # soft edge, plus motion-blur tails
            near = np.zeros_like(diff)
            near[max(0, y - r):y + h + r, max(0, x - r):x + w + r] = True
            if not with_t.cut[t]:  # a target cut by the frame edge may smear in from outside; skip those
                assert not (diff & ~near).any(), (idx, t, r)
            if with_t.cover[t] == 8:  # fully visible: the target really is drawn over most of its mask
                assert diff[m].mean() > 0.3
            seen_occlusion |= bool(with_t.cover[t] < 8 and with_t.cut[t] == 0)
    assert seen_occlusion and seen_exit
    assert [cover_label(f) for f in (0.0, 0.1, 0.15, 0.5, 0.95, 1.0)] == [0, 1, 1, 4, 7, 8]


def test_synth_val_split_photos_and_ensure(tmp_path):
    assert not set(TRAIN_PHOTOS) & set(VAL_PHOTOS)
    val = generate_synth(tmp_path / "val", 4, 3, seed=0, split="val", ext="png", size=(96, 64))
    meta = json.loads((val / "synth.json").read_text())
    used = {p for ph in meta["photos"].values() for p in ph.values()}
    assert used <= set(VAL_PHOTOS) and (val / "synth_val_00001" / "00000001.png").is_file()
    tr = json.loads((generate_synth(tmp_path / "tr", 4, 3, seed=0, size=(96, 64)) / "synth.json").read_text())
    assert {p for ph in tr["photos"].values() for p in ph.values()} <= set(TRAIN_PHOTOS)
    stamp = (val / "synth.json").stat().st_mtime_ns
    ensure_synth(val, 4, 3, seed=0, split="val", ext="png", size=(96, 64))
    assert (val / "synth.json").stat().st_mtime_ns == stamp
    ensure_synth(val, 5, 3, seed=0, split="val", ext="png", size=(96, 64))
    assert json.loads((val / "synth.json").read_text())["sequences"] == 5
    with pytest.raises(InputError, match="--split"):
        generate_synth(tmp_path / "x", 1, 3, split="test")


def test_synth_never_writes_over_another_dataset_or_set(tmp_path):
    """A GOT-10k folder given as OUT lost its list.txt to the generator, and dt bench --data synthetic --root SET
    regenerated a set made with other parameters; both are refused, untouched. A set a killed run left without its
    marker is still regenerated."""
    from droptrack.eval.bench_data import load_bench_data

    got = tmp_path / "got"
    text(got / "list.txt", "seqA\n")
    text(got / "seqA" / "groundtruth.txt", "1,1,5,5\n")
    with pytest.raises(InputError, match="holds 'list.txt', which is not part of a synthetic set"):
        generate_synth(got, 1, 2, size=(64, 64))
    text(tmp_path / "notes" / "readme.txt", "keep\n")
    with pytest.raises(InputError, match="holds 'readme.txt'"):
        load_bench_data("synthetic", str(tmp_path / "notes"), tmp_path / "out", 1, 2)
    assert sorted(p.name for p in got.rglob("*")) == ["groundtruth.txt", "list.txt", "seqA"]
    assert (got / "list.txt").read_text() == "seqA\n"
    mine = generate_synth(tmp_path / "mine", 1, 3, seed=5, split="val", size=(64, 64))
    marker = (mine / "synth.json").read_text()
    with pytest.raises(InputError, match=r"--root .* holds another synthetic set \(sequences 1, not 2\).*--data"):
        load_bench_data("synthetic", str(mine), tmp_path / "out", 2, 3)
    assert (mine / "synth.json").read_text() == marker and not (mine / "synth_val_00002").exists()
    (got / "list.txt").write_bytes(b"\x9b\xff\x00seqA")       # binary garbage was a UnicodeDecodeError traceback
    with pytest.raises(DatasetError, match="is missing"):
        get_sequences("got10k", got, split="val")
    (mine / "synth.json").unlink()      # as a killed generation leaves it: not read (it may mix two runs) ...
    with pytest.raises(DatasetError, match="generation was interrupted"):
        get_sequences("synth", mine, split="val")
    assert ensure_synth(mine, 1, 3, seed=5, split="val", size=(64, 64)) == mine and (mine / "synth.json").is_file()
    assert len(get_sequences("synth", mine, split="val")) == 1          # ... but made again


def test_synth_restyle_and_video_stills(monkeypatch):
    from droptrack.data.synth_render import load_photo, restyle

    cache: dict = {}
    still = load_photo("carphone_pristine.mp4@80", cache)
    assert still.shape == (144, 176, 3) and still.dtype == np.uint8 and still.std() > 10
    photo = load_photo("astronaut.png", cache)
    looks = [restyle(np.random.default_rng(i), photo) for i in range(12)]
    assert all(lk.shape == photo.shape and lk.dtype == np.uint8 for lk in looks)
    assert any(np.array_equal(lk[..., 0], lk[..., 1]) for lk in looks)  # some become gray
    assert len({lk.tobytes() for lk in looks}) == 12 and np.array_equal(cache["astronaut.png"], photo)
    assert np.array_equal(restyle(np.random.default_rng(3), photo), looks[3])
    n_gray = [sum(np.array_equal(lk[..., 0], lk[..., 2]) for lk in
                  (restyle(np.random.default_rng(i), photo, gray=g) for i in range(40))) for g in (0.0, 0.7)]
    assert n_gray[0] == 0 and n_gray[1] > 20
    with pytest.raises(InputError, match="--gray"):
        generate_synth("unused", 1, 3, split="val", gray=0.5)
    # training sequences draw restyled looks; the val split never does, so held-out sets stay as they were
    calls = []
    real = synth_render.restyle
    monkeypatch.setattr(synth_render, "restyle", lambda *a, **k: calls.append(1) or real(*a, **k))
    tr = synth_sequence(0, 3, seed=5, size=(96, 64), split="train")
    assert tr.photos["target"] in TRAIN_PHOTOS and len(calls) == 3
    synth_sequence(0, 3, seed=5, size=(96, 64), split="val")
    assert len(calls) == 3


def test_cli_data_synth(tmp_path):
    from typer.testing import CliRunner

    from droptrack.cli import app

    out = tmp_path / "cli"
    res = CliRunner().invoke(app, ["data", "synth", str(out), "--sequences", "3", "--frames", "4", "--seed", "2",
                                   "--size", "128x96"])
    assert res.exit_code == 0, res.output
    assert (out / "list.txt").read_text().split() == [f"synth_train_{i:05d}" for i in (1, 2, 3)]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [f"synth_train_{i:05d}" for i in (1, 2, 3)]
    assert cv2.imread(str(out / "synth_train_00001" / "00000004.jpg")).shape == (96, 128, 3)
    bad = CliRunner().invoke(app, ["data", "synth", str(out), "--size", "big"])
    assert bad.exit_code == 2 and "WxH" in bad.output
