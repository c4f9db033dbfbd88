"""Readers against the official toolkits' own reading of messy real downloads (GOT-10k toolkit / pytracking's
GOT10KDataset, TrackingNet devkit + pytracking's TrackingNetDataset, LaSOT, UAV123): sequence membership and order,
frame lists, and the stray files a download or a copy from macOS leaves. Expected values are written by hand from
those tools' rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.errors import DatasetError
from helpers import img, text

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py

APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "   # what macOS writes as ._<name>


def _got10k_test_seq(folder: Path, frames: int) -> None:
    for i in range(1, frames + 1):
        img(folder / f"{i:08d}.jpg")
    text(folder / "groundtruth.txt", "10.5,20,30,40\n")


def test_got10k_test_split_is_list_txt_in_its_order_with_only_jpg_frames(tmp_path):
    """The toolkit reads test/list.txt (in its order) and a sequence's *.jpg; a folder list.txt does not name, a
    README or .DS_Store beside the sequences, macOS ._ files and a preview .png are none of them (the .png was
    counted as a 4th frame)."""
    test = tmp_path / "test"
    _got10k_test_seq(test / "GOT-10k_Test_000002", 3)
    _got10k_test_seq(test / "GOT-10k_Test_000001", 2)
    _got10k_test_seq(test / "GOT-10k_Test_000003", 2)   # not in list.txt
    text(test / "list.txt", "GOT-10k_Test_000002\nGOT-10k_Test_000001\n")
    text(test / "README.txt", "GOT-10k test split\n")
    (test / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (test / "GOT-10k_Test_000002" / "._00000001.jpg").write_bytes(APPLE_DOUBLE)
    img(test / "GOT-10k_Test_000002" / "preview.png")
    a, b = get_sequences("got10k_test", tmp_path)
    assert [a.name, b.name] == ["GOT-10k_Test_000002", "GOT-10k_Test_000001"]
    assert [p.name for p in a.frames] == ["00000001.jpg", "00000002.jpg", "00000003.jpg"]
    assert a.boxes[0].tolist() == [10.5, 20, 30, 40] and np.isnan(a.boxes[1:]).all() and len(b) == 2
    png = test / "GOT-10k_Test_000009"   # one's own footage in PNG beside a list.txt (no .jpg at all): its images
    for i in (1, 2):
        img(png / f"{i:08d}.png")
    text(png / "groundtruth.txt", "1,2,3,4\n")
    text(test / "list.txt", "GOT-10k_Test_000009\n")
    (own,) = get_sequences("got10k_test", tmp_path)
    assert [p.name for p in own.frames] == ["00000001.png", "00000002.png"]


def test_got10k_name_listed_twice_is_one_sequence(tmp_path):
    """The toolkit and pytracking find a twice-listed sequence's results on the second pass and skip it: one
    sequence (it was read twice, tracked twice into the same files and counted twice in the scores)."""
    _got10k_test_seq(tmp_path / "val" / "GOT-10k_Val_000002", 2)
    _got10k_test_seq(tmp_path / "val" / "GOT-10k_Val_000001", 2)
    text(tmp_path / "val" / "list.txt", "GOT-10k_Val_000002\nGOT-10k_Val_000001\nGOT-10k_Val_000002\n")
    assert [s.name for s in get_sequences("got10k_val", tmp_path)] == ["GOT-10k_Val_000002", "GOT-10k_Val_000001"]


def test_got10k_split_without_list_txt_is_refused_as_the_toolkit_refuses_it(tmp_path):
    """GOT10k(root, subset) raises 'Dataset not found or corrupted' without <subset>/list.txt and pytracking cannot
    open it: the folder was listed instead, so any folder lying there was scored as a test sequence."""
    _got10k_test_seq(tmp_path / "test" / "GOT-10k_Test_000001", 2)
    with pytest.raises(DatasetError) as err:
        get_sequences("got10k", tmp_path, split="test")
    msg = str(err.value)
    assert "has no list.txt" in msg and str(tmp_path / "test") in msg and "re-extract" in msg and "\n" not in msg


def test_got10k_sequences_listed_without_a_folder_are_named_together_before_any_is_read(tmp_path):
    """Six of seven listed folders are missing: one line counts them and names the first five (it named only the
    first, after reading the sequences before it)."""
    _got10k_test_seq(tmp_path / "val" / "GOT-10k_Val_000001", 2)
    listed = [f"GOT-10k_Val_{k:06d}" for k in range(1, 8)]
    text(tmp_path / "val" / "list.txt", "\n".join(listed) + "\n")
    with pytest.raises(DatasetError) as err:
        get_sequences("got10k_val", tmp_path)
    assert str(err.value) == (f"6 of the 7 sequences listed in {tmp_path / 'val' / 'list.txt'} have no folder "
                              "(GOT-10k_Val_000002, GOT-10k_Val_000003, GOT-10k_Val_000004, GOT-10k_Val_000005, "
                              "GOT-10k_Val_000006, ...); re-extract the split, or remove them from list.txt")


def test_got10k_val_sequence_with_the_official_label_files(tmp_path):
    """A val sequence as the archive ships it: pytracking's training visibility is not absent and cover > 0, the
    toolkit scores frames with cover > 0 and clips to meta_info.ini's resolution; cut_by_image.label is only
    metadata. Frames are 00000001.jpg .. one per GT row."""
    seq = tmp_path / "val" / "GOT-10k_Val_000004"
    for i in range(1, 5):
        img(seq / f"{i:08d}.jpg")
    text(seq / "groundtruth.txt", "1.0000,2.0000,30.0000,40.0000\n2,3,30,40\n3,4,30,40\n4,5,30,40\n")
    text(seq / "absence.label", "0\n0\n1\n0\n")
    text(seq / "cover.label", "8\n0\n0\n3\n")
    text(seq / "cut_by_image.label", "0\n1\n0\n1\n")
    text(seq / "meta_info.ini", "[METAINFO]\nurl: https://youtu.be/x\nbegin: 00:00:01\nend: 00:00:09\n"
                                "anno_fps: 10Hz\nobject_class: ant\nmotion_class: crawling\nmajor_class: insect\n"
                                "root_class: animal\nmotion_adverb: slowly\nresolution: (1280, 720)\n")
    text(tmp_path / "val" / "list.txt", "GOT-10k_Val_000004\n")
    (s,) = get_sequences("got10k_val", tmp_path)
    assert s.visible.tolist() == [True, False, False, True] and s.cover.tolist() == [8, 0, 0, 3]
    assert s.object_class == "ant" and s.image_size == (1280, 720) and s.boxes[0].tolist() == [1, 2, 30, 40]
    assert [p.name for p in s.frames] == [f"{i:08d}.jpg" for i in range(1, 5)]


def _trackingnet_seq(chunk: Path, name: str, frames: int | None, rows: str = "1,2,30,40\n") -> None:
    text(chunk / "anno" / f"{name}.txt", rows)
    for i in range(frames or 0):
        img(chunk / "frames" / name / f"{i}.jpg")


def test_trackingnet_test_is_its_anno_files_and_jpg_frames_macos_leftovers_ignored(tmp_path):
    """pytracking lists TEST/anno/*.txt and the .jpg files of frames/<seq>; a copy made on macOS holds ._<seq>.txt
    beside every annotation (read as a sequence '._abc' and refused as a corrupt annotation), and frames/ may hold
    a sequence without annotation and stray files (not frames)."""
    chunk = tmp_path / "TEST"
    _trackingnet_seq(chunk, "abc_0", 3)
    _trackingnet_seq(chunk, "-Dz7OIf54b0_0", 12)
    (chunk / "anno" / "._abc_0.txt").write_bytes(APPLE_DOUBLE)
    (chunk / "anno" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    img(chunk / "frames" / "no_anno_0" / "0.jpg")
    img(chunk / "frames" / "abc_0" / "thumb.png")
    (chunk / "frames" / "abc_0" / "._0.jpg").write_bytes(APPLE_DOUBLE)
    text(chunk / "zips" / "README", "leftover\n")
    seqs = {s.name: s for s in get_sequences("trackingnet", tmp_path)}
    assert sorted(seqs) == ["-Dz7OIf54b0_0", "abc_0"]
    assert [p.name for p in seqs["abc_0"].frames] == ["0.jpg", "1.jpg", "2.jpg"]
    long = seqs["-Dz7OIf54b0_0"]
    assert len(long) == 12 and long.frames[10].name == "10.jpg" and long.boxes[0].tolist() == [1, 2, 30, 40]


def test_trackingnet_annotations_without_frames_are_named_together_with_the_devkit_step(tmp_path):
    """Downloaded but not extracted (zips/<seq>.zip, no frames/<seq>/): one line naming the count, the sequences and
    the devkit's extraction command (it was 'image folder ... is missing' for the first one)."""
    chunk = tmp_path / "TEST"
    _trackingnet_seq(chunk, "a_0", 2)
    for name in ("b_0", "c_0"):
        _trackingnet_seq(chunk, name, None)
        text(chunk / "zips" / f"{name}.zip", "zip")
    with pytest.raises(DatasetError) as err:
        get_sequences("trackingnet", tmp_path)
    assert str(err.value) == ("2 of the 3 TrackingNet sequences with an annotation in TEST/anno have no frames/<seq> "
                              f"folder (b_0, c_0); extract them with the TrackingNet devkit: python extract_frame.py "
                              f"--trackingnet_dir {tmp_path} --chunk Test")
    (tmp_path / "TRAIN_4" / "zips").mkdir(parents=True)   # zips downloaded, annotations not
    with pytest.raises(DatasetError) as err:
        get_sequences("trackingnet", tmp_path, split="TRAIN_4")
    assert str(err.value) == (f"TrackingNet annotation folder {tmp_path / 'TRAIN_4' / 'anno'} is missing; download "
                              "it with the TrackingNet devkit: python download_TrackingNet.py --trackingnet_dir "
                              f"{tmp_path} --chunk 4 --data anno")


def test_trackingnet_train_chunks_in_number_order_and_one_chunk_alone(tmp_path):
    """TRAIN_0..TRAIN_11 as the devkit names them, read in chunk-number order (TRAIN_2 before TRAIN_10); one chunk by
    its name; zips/ leftovers and other folders beside the chunks are not chunks. Train GT has every row."""
    _trackingnet_seq(tmp_path / "TRAIN_10", "z_0", 2, "1,2,3,4\n5,6,7,8\n")
    _trackingnet_seq(tmp_path / "TRAIN_2", "y_0", 2, "1,2,3,4\n5,6,7,8\n")
    (tmp_path / "TRAIN_2" / "zips").mkdir()
    _trackingnet_seq(tmp_path / "TRAIN_2_old", "x_0", 2, "1,2,3,4\n5,6,7,8\n")
    (tmp_path / "TRAIN_3.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert [s.name for s in get_sequences("trackingnet", tmp_path, split="train")] == ["y_0", "z_0"]
    (z,) = get_sequences("trackingnet", tmp_path, split="TRAIN_10")
    assert z.boxes.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]] and [p.name for p in z.frames] == ["0.jpg", "1.jpg"]


def _lasot_seq(folder: Path, frames: int = 2) -> None:
    for i in range(1, frames + 1):
        img(folder / "img" / f"{i:08d}.jpg")
    text(folder / "groundtruth.txt", "1,2,5,6\n" * frames)
    text(folder / "full_occlusion.txt", ",".join("0" * frames) + "\n")
    text(folder / "out_of_view.txt", ",".join("0" * frames) + "\n")


def test_lasot_macos_zip_leftovers_are_no_second_copy_of_each_sequence(tmp_path):
    """A class archive unpacked on macOS leaves __MACOSX/<class>/<class>-<n>/img/ (._ files): each sequence was found
    twice, so LaSOT-ext and LaSOT train/all tracked and scored it twice; testing_set.txt and the archives beside
    the classes are no sequences."""
    _lasot_seq(tmp_path / "airplane" / "airplane-2")
    (tmp_path / "__MACOSX" / "airplane" / "airplane-2" / "img").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "airplane" / "airplane-2" / "._groundtruth.txt").write_bytes(APPLE_DOUBLE)
    (tmp_path / ".Trashes" / "airplane-3" / "img").mkdir(parents=True)
    text(tmp_path / "testing_set.txt", "airplane-1\n")
    (tmp_path / "airplane.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert [s.name for s in get_sequences("lasot", tmp_path, split="train")] == ["airplane-2"]
    ext = tmp_path / "ext"
    _lasot_seq(ext / "atv" / "atv-1")
    (ext / "__MACOSX" / "atv-1" / "img").mkdir(parents=True)   # a flat archive's leftovers
    assert [s.name for s in get_sequences("lasot_extension_subset", ext)] == ["atv-1"]


def test_lasot_test_sequences_not_extracted_are_named_together(tmp_path):
    """Three classes extracted of the 70 (12 of 280 sequences): one line counts the 268 missing, names the first 5
    and the archives to extract (it named the first missing one after reading the sequences before it)."""
    for cls, nums in (("airplane", (1, 9, 13, 15)), ("basketball", (1, 6, 7, 11)), ("zebra", (10, 14, 16, 17))):
        for n in nums:
            _lasot_seq(tmp_path / cls / f"{cls}-{n}")
    with pytest.raises(DatasetError) as err:
        get_sequences("lasot", tmp_path)
    assert str(err.value) == (f"268 of the 280 LaSOT test sequences are not under {tmp_path} (bear-2, bear-4, bear-6, "
                              "bear-17, bicycle-2, ...); extract the class archives bear, bicycle, bird, boat, book, "
                              "... there")
    assert len(get_sequences("lasot", tmp_path, names=["zebra-10", "airplane-9"])) == 2


def test_uav123_sub_sequences_from_one_folder_and_macos_leftovers(tmp_path):
    """UAV123's bird1_1/_2/_3 are cut from data_seq/UAV123/bird1 (first images 1, 775, 1573 in the official table;
    the part's length is its annotation's); a copy made on macOS holds ._<seq>.txt beside each annotation, which
    was read as a sequence 'uav_._bird1_2' and refused as a corrupt annotation."""
    anno = tmp_path / "anno" / "UAV123"
    text(anno / "bird1_3.txt", "1,2,3,4\nNaN,NaN,NaN,NaN\n5,6,7,8\n")
    text(anno / "person7_2.txt", "1,2,3,4\n")
    (anno / "._bird1_3.txt").write_bytes(APPLE_DOUBLE)
    (anno / "att").mkdir()
    text(anno / "att" / "bird1_3.txt", "0,1,0,0,0,0,0,0,0,0,0,0\n")
    for folder in ("bird1", "person7"):
        (tmp_path / "data_seq" / "UAV123" / folder).mkdir(parents=True)
    bird, person = get_sequences("uav", tmp_path)
    assert bird.name == "uav_bird1_3" and [p.name for p in bird.frames] == ["001573.jpg", "001574.jpg", "001575.jpg"]
    assert np.isnan(bird.boxes[1]).all() and bird.boxes[2].tolist() == [5, 6, 7, 8]
    assert person.name == "uav_person7_2" and person.frames[0].name == "001249.jpg"


def test_lasot_test_split_is_read_in_the_official_lists_order(tmp_path):
    """pytracking/OSTrack track and report LaSOT in their list's order: ... cattle-13, spider-14, ... coin-3 and
    drone-13, drone-15, drone-2, drone-7 (the classes were read alphabetically, numbers ascending)."""
    from droptrack.data.lasot import test_names

    for name in test_names():   # annotations only: frames are a rule, not read here
        folder = tmp_path / name.rsplit("-", 1)[0] / name
        text(folder / "groundtruth.txt", "1,2,5,6\n")
        text(folder / "full_occlusion.txt", "0\n")
        text(folder / "out_of_view.txt", "0\n")
    names = [s.name for s in get_sequences("lasot", tmp_path)]
    assert len(names) == 280 and names[:5] == ["airplane-1", "airplane-9", "airplane-13", "airplane-15", "basketball-1"]
    assert names[46:53] == ["cattle-12", "cattle-13", "spider-14", "spider-16", "spider-18", "spider-20", "coin-3"]
    assert names[names.index("drone-13"):][:5] == ["drone-13", "drone-15", "drone-2", "drone-7", "pool-12"]
    assert names[-5:] == ["squirrel-19", "volleyball-1", "volleyball-13", "volleyball-18", "volleyball-19"]


def test_one_missing_sequence_is_said_in_the_singular_by_the_cli(tmp_path):
    """`dt analyze` on a GOT-10k val root whose list.txt names a folder that is not there: exit 2, one line."""
    from helpers import cli, one_line_error

    _got10k_test_seq(tmp_path / "root" / "val" / "GOT-10k_Val_000001", 2)
    text(tmp_path / "root" / "val" / "list.txt", "GOT-10k_Val_000001\nGOT-10k_Val_000002\n")
    text(tmp_path / "res" / "GOT-10k_Val_000001.txt", "1\t2\t3\t4\n" * 2)
    line = one_line_error(cli("analyze", tmp_path / "res", "--dataset", "got10k", "--root", tmp_path / "root",
                              "--split", "val", "-o", tmp_path / "rep"))
    assert line == (f"error: 1 of the 2 sequences listed in {tmp_path / 'root' / 'val' / 'list.txt'} has no folder "
                    "(GOT-10k_Val_000002); re-extract the split, or remove it from list.txt")


def test_tnl2k_and_nfs_roots_one_folder_above_their_sequences_name_that_folder(tmp_path):
    """TNL2K's archive unpacks into TNL2K_test_subset/ and NfS's per-sequence zips may sit in a folder of their own:
    a root one level above the sequences gave an empty set, and dt analyze / dt eval said only 'no sequences to
    score'. The reader now says where they are."""
    tnl = tmp_path / "tnl2k"
    text(tnl / "TNL2K_test_subset" / "Cartoon_1" / "groundtruth.txt", "1,2,3,4\n")
    (tnl / "TNL2K_test_subset" / "Cartoon_1" / "imgs").mkdir()
    text(tnl / "TNL2K_test_subset" / "Cartoon_1" / "language.txt", "the cartoon cat\n")
    (tnl / "__MACOSX" / "Cartoon_1").mkdir(parents=True)
    with pytest.raises(DatasetError) as err:
        get_sequences("tnl2k", tnl)
    assert str(err.value) == (f"no TNL2K sequence (a <seq>/ folder with groundtruth.txt and imgs/) under {tnl}; they "
                              f"are one folder down: point the root at {tnl / 'TNL2K_test_subset'}")
    nfs = tmp_path / "nfs"
    text(nfs / "NfS" / "Bee" / "30" / "Bee.txt", "1 0 5 10 25 0 0 0 0 \"bee\"\n")
    with pytest.raises(DatasetError) as err:
        get_sequences("nfs", nfs)
    assert str(err.value).endswith(f"under {nfs}; they are one folder down: point the root at {nfs / 'NfS'}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"no TNL2K sequence .*; point the root at the folder that holds the "
                                           r"sequence folders$"):
        get_sequences("tnl2k", empty)


def test_a_root_above_the_archives_own_top_folder_names_that_folder(tmp_path):
    """GOT-10k's full_data/, TrackingNet/, UAV123's UAV123/ and LaSOTBenchmark/ folders: a root one level above them
    was told the split folder / TEST / anno/UAV123 / test sequences are missing, with no word of where they are."""
    got = tmp_path / "got"
    _got10k_test_seq(got / "full_data" / "test" / "GOT-10k_Test_000001", 2)
    text(got / "full_data" / "test" / "list.txt", "GOT-10k_Test_000001\n")
    with pytest.raises(DatasetError) as err:
        get_sequences("got10k_test", got)
    assert str(err.value) == (f"got10k split folder {got / 'test'} is missing, but {got / 'full_data' / 'test'} is "
                              f"there; point the root at {got / 'full_data'}")
    tn = tmp_path / "tn"
    _trackingnet_seq(tn / "TrackingNet" / "TEST", "a_0", 1)
    with pytest.raises(DatasetError) as err:
        get_sequences("trackingnet", tn)
    assert str(err.value) == (f"TrackingNet folder {tn / 'TEST'} is missing, but {tn / 'TrackingNet' / 'TEST'} is "
                              f"there; point the root at {tn / 'TrackingNet'}")
    uav = tmp_path / "uav"
    text(uav / "UAV123" / "anno" / "UAV123" / "bike1.txt", "1,2,3,4\n")
    with pytest.raises(DatasetError) as err:
        get_sequences("uav", uav)
    assert str(err.value) == (f"UAV123 annotation folder {uav / 'anno' / 'UAV123'} is missing, but "
                              f"{uav / 'UAV123' / 'anno' / 'UAV123'} is there; point the root at {uav / 'UAV123'}")
    lasot = tmp_path / "lasot"
    _lasot_seq(lasot / "LaSOTBenchmark" / "zebra" / "zebra-10")
    with pytest.raises(DatasetError) as err:
        get_sequences("lasot", lasot)
    assert str(err.value) == (f"no LaSOT test sequence under {lasot}, but {lasot / 'LaSOTBenchmark'} holds them; "
                              f"point the root at {lasot / 'LaSOTBenchmark'}")


def test_submissions_hold_what_ostracks_transform_scripts_write(tmp_path):
    """OSTrack's transform_got10k: <seq>/<seq>_001.txt = the tab file's rows comma-separated (%d) and <seq>_time.txt
    copied, sequence folders at the zip's root; transform_trackingnet: <seq>.txt comma-separated at the root, no
    time files. Written here from pytracking-style result files (truncated ints, %f seconds)."""
    import zipfile

    from droptrack.eval.results import write_result, write_submission, write_times

    out = tmp_path / "trk"
    write_result(out / "GOT-10k_Test_000002.txt", [[10.9, 20.2, 30.5, 40.99], [-3.7, -0.4, 12.0, 9.5]])
    write_times(out / "GOT-10k_Test_000002_time.txt", [0.0125, 0.5])
    assert (out / "GOT-10k_Test_000002.txt").read_text() == "10\t20\t30\t40\n-3\t0\t12\t9\n"
    assert (out / "GOT-10k_Test_000002_time.txt").read_text() == "0.012500\n0.500000\n"
    write_submission(out, "got10k", ["GOT-10k_Test_000002"])
    with zipfile.ZipFile(out / "got10k_submit.zip") as zf:
        got = {n: zf.read(n).decode() for n in zf.namelist()}
    assert got == {"GOT-10k_Test_000002/GOT-10k_Test_000002_001.txt": "10,20,30,40\n-3,0,12,9\n",
                   "GOT-10k_Test_000002/GOT-10k_Test_000002_time.txt": "0.012500\n0.500000\n"}
    write_submission(out, "trackingnet", ["GOT-10k_Test_000002"])
    with zipfile.ZipFile(out / "trackingnet_submit.zip") as zf:
        tn = {n: zf.read(n).decode() for n in zf.namelist()}
    assert tn == {"GOT-10k_Test_000002.txt": "10,20,30,40\n-3,0,12,9\n"}


def test_otb_root_one_folder_above_its_sequences_names_that_folder(tmp_path):
    """OTB unpacked into OTB100/ (or one zip per sequence unpacked into a folder of their own): a root one level
    above said only to point at the folder that holds Basketball/, Biker/; it now names that folder, as the TNL2K,
    NfS and LaSOT-extension readers do."""
    text(tmp_path / "OTB100" / "Biker" / "groundtruth_rect.txt", "1,2,3,4\n")
    (tmp_path / "OTB100" / "Biker" / "img").mkdir()
    with pytest.raises(DatasetError) as err:
        get_sequences("otb", tmp_path)
    assert str(err.value) == (f"no OTB sequence (a <Seq>/groundtruth_rect.txt) under {tmp_path}; they are one folder "
                              f"down: point the root at {tmp_path / 'OTB100'}")
    with pytest.raises(DatasetError, match=r"under .*OTB100.Biker; point the root at the folder that holds Basketball/"):
        get_sequences("otb", tmp_path / "OTB100" / "Biker")
