"""A training dataset's root given one folder off, as users pass them: the archive's top folder (one too high) or a
folder inside the root (one too low). The refusal names the folder to pass, not a download or extraction that
changes nothing (the files are all there)."""

from __future__ import annotations

import json

import pytest

from droptrack.data import get_sequences
from droptrack.errors import DatasetError
from helpers import TINY_TRAIN as TINY, cli, img, one_line_error, text, train_config as config


def _lasot(root, names=("cat-2", "dog-3")):
    """LaSOT training sequences (not in the 280-sequence test split): boxes and labels, 20 frames each."""
    for name in names:
        seq = root / name.rsplit("-", 1)[0] / name
        text(seq / "groundtruth.txt", "4,3,6,5\n" * 20)
        for flags in ("full_occlusion.txt", "out_of_view.txt"):
            text(seq / flags, ",".join(["0"] * 20))
        for i in range(1, 21):
            img(seq / "img" / f"{i:08d}.jpg", size=(32, 24))
    return root


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


def test_lasot_root_one_folder_off_names_the_root_to_pass(tmp_path):
    """LaSOTBenchmark/ (the archive's top folder) under the root given, or a sequence's img/ given: 'no sequences under
    ROOT; it should hold <class>/<class>-N/...' left the user to find the folder."""
    lasot = _lasot(tmp_path / "top" / "LaSOTBenchmark")
    cfg, out = config(tmp_path, "LASOT"), tmp_path / "out"
    line = one_line_error(cli("train", "-c", cfg, "-o", out, "--data", f"LASOT={lasot.parent}", *TINY))
    assert line == (f"error: training dataset LASOT: no sequences under '{lasot.parent}' (from --data LASOT="
                    f"{lasot.parent}), but '{lasot}' holds LaSOT's <class>/<class>-N/ folders; pass --data "
                    f"LASOT={lasot}")
    img_dir = lasot / "cat" / "cat-2" / "img"
    line = one_line_error(cli("train", "-c", cfg, "-o", out, "--data", f"LASOT={img_dir}", *TINY))
    assert line == (f"error: training dataset LASOT: '{img_dir}' (from --data LASOT={img_dir}) is a folder inside the "
                    f"sequence '{img_dir.parent}'; pass the dataset's root, which holds <class>/<class>-N/"
                    "groundtruth.txt + img/00000001.jpg ...")
    assert not out.exists()
    assert cli("train", "-c", cfg, "-o", out, "--data", f"LASOT={lasot}", *TINY).exit_code == 0   # the one named


def test_frames_not_on_disk_are_refused_before_training_starts(tmp_path):
    """GOT-10k frames named 00000001.JPG (as some copies and Windows tools write them), or COCO's train2017/ left
    empty: every sample failed to read, and the run stopped ('100 samples in a row ... could not be used') after it
    had made its output folder and built the model. Now one line first, with the rename the test then runs."""
    import subprocess

    train = tmp_path / "got10k" / "train"
    for name in ("GOT-10k_Train_000001", "GOT-10k_Train_000002"):
        text(train / name / "groundtruth.txt", "4,3,6,5\n" * 20)
        for i in range(1, 21):
            img(train / name / f"{i:08d}.JPG", size=(32, 24))
    text(train / "list.txt", "GOT-10k_Train_000001\nGOT-10k_Train_000002\n")
    cfg, out = config(tmp_path, "GOT10K_train_full"), tmp_path / "out"
    line = one_line_error(cli("train", "-c", cfg, "-o", out, "--data", f"GOT10K_train_full={train.parent}", *TINY))
    seq = train / "GOT-10k_Train_000001"
    rename = f"cd '{seq}' && for f in *.JPG; do mv \"$f\" \"${{f%.JPG}}.jpg\"; done"
    assert line == ("error: training dataset GOT10K_train_full: none of the 2 sequence(s) checked has its frames on "
                    f"disk (the first: frame {seq / '00000001.jpg'} is missing, but 00000001.JPG is there (its name "
                    f"in other case, which Linux and the benchmark's loaders tell apart); rename the frames: {rename})")
    assert not out.exists()
    for folder in sorted(train.iterdir()):
        if folder.is_dir():
            subprocess.run(["bash", "-c", rename.replace(str(seq), str(folder))], check=True)
    assert cli("train", "-c", cfg, "-o", out, "--data", f"GOT10K_train_full={train.parent}", *TINY).exit_code == 0

    coco = _coco(tmp_path / "coco")
    (coco / "train2017" / "000000000001.jpg").unlink()   # the folder made, the zip never extracted into it
    line = one_line_error(cli("train", "-c", config(tmp_path, "COCO17"), "-o", out / "c", "--data", f"COCO17={coco}",
                              *TINY))
    assert line == ("error: training dataset COCO17: none of the 1 sequence(s) checked has its frames on disk (the "
                    f"first: frame {coco / 'train2017' / '000000000001.jpg'} is missing; re-download or re-extract "
                    "this sequence)")
    assert not (out / "c").exists()


def test_lasot_training_reads_the_official_train_split_only(tmp_path):
    """LaSOT-extension extracted into the LaSOT root (its classes atv/, ... beside airplane/): its 150 sequences, an
    evaluation benchmark, were trained on as 'every sequence present outside the 280 test ones'; the official
    lasot_train_split.txt lists the 1120 <class>-N of LaSOT's 70 classes (N = 1..20) outside the test split."""
    root = _lasot(tmp_path / "LaSOT", ("cat-2", "airplane-20", "atv-1", "cat-21", "cat-1"))
    assert [s.name for s in get_sequences("lasot", root, split="train")] == ["airplane-20", "cat-2"]
    assert [s.name for s in get_sequences("lasot", root, split="all")] == ["airplane-20", "atv-1", "cat-1", "cat-2",
                                                                            "cat-21"]
    from droptrack.data.lasot import is_train_name, test_names

    # 70 classes x 20 sequences, 280 of them the test split: 1120 train names, none a test one
    classes = {nm.rsplit("-", 1)[0] for nm in test_names()}
    train = [f"{c}-{n}" for c in classes for n in range(1, 21) if is_train_name(f"{c}-{n}")]
    assert (len(classes), len(train), set(train) & set(test_names())) == (70, 1120, set())
    ext = _lasot(tmp_path / "LaSOT_ext", ("atv-1", "atv-2"))   # its root given for LASOT
    line = one_line_error(cli("train", "-c", config(tmp_path, "LASOT"), "-o", tmp_path / "out", "--data",
                              f"LASOT={ext}", *TINY))
    assert line == (f"error: training dataset LASOT: none of the 2 sequence(s) under '{ext}' (from --data LASOT={ext}) "
                    "is in LaSOT's official train split (such as atv-1; the split is the <class>-N of LaSOT's 70 "
                    "classes, N = 1..20, outside the 280 test ones); pass the LaSOT root, or remove LASOT from "
                    "DATA.TRAIN.DATASETS_NAME")


def test_trackingnet_anno_or_frames_folder_given_names_the_root(tmp_path):
    """TRAIN_0/anno (or frames/) given as the root: 'TrackingNet folder .../anno/TRAIN_0 is missing; extract the train
    chunks under the root' asked for an extraction into the chunk's own annotation folder."""
    chunk = tmp_path / "TrackingNet" / "TRAIN_0"
    text(chunk / "anno" / "a.txt", "4,3,6,5\n" * 20)
    for i in range(20):
        img(chunk / "frames" / "a" / f"{i}.jpg")
    assert [s.name for s in get_sequences("trackingnet", chunk.parent, split="train")] == ["a"]
    for inner in ("anno", "frames"):
        with pytest.raises(DatasetError) as err:
            get_sequences("trackingnet", chunk / inner, split="train")
        assert str(err.value) == (f"TrackingNet folder {chunk / inner / 'TRAIN_0'} is missing: {chunk / inner} is the "
                                  f"{inner}/ folder of chunk TRAIN_0; point the root at {chunk.parent}, the folder "
                                  "that holds TEST/ and TRAIN_0/ ... TRAIN_11/")


def test_a_quoted_home_in_data_is_the_home_folder(tmp_path, monkeypatch):
    """--data 'LASOT=~/lasot' (quoted, or zsh, which leaves ~ after '=' alone) was refused as ''~/lasot' does not
    exist', though dt expands a quoted leading ~ in every other path (DT_DATA_LASOT=~/lasot too)."""
    home = tmp_path / "home"
    _lasot(home / "lasot")
    monkeypatch.setenv("HOME", str(home))
    out = tmp_path / "out"
    res = cli("train", "-c", config(tmp_path, "LASOT"), "-o", out, "--data", "LASOT=~/lasot", *TINY)
    assert res.exit_code == 0, res.output
    assert (out / "final.pt").is_file()


def test_lasot_class_archives_not_extracted_are_named_with_the_extraction(tmp_path):
    """A LaSOT root of downloaded class archives (airplane.zip ...): 'no sequences under ROOT; ... fix the path' sent
    the user to a path that was right. The refusal names the archives and the command, which the test runs."""
    import shutil
    import subprocess

    built = _lasot(tmp_path / "built", ("cat-2", "dog-3"))
    root = tmp_path / "lasot"
    root.mkdir()
    for cls in ("cat", "dog"):   # each class archive holds <class>/<class>-N/
        shutil.make_archive(str(root / cls), "zip", built, cls)
    cfg, out = config(tmp_path, "LASOT"), tmp_path / "out"
    line = one_line_error(cli("train", "-c", cfg, "-o", out, "--data", f"LASOT={root}", *TINY))
    command = f"cd '{root}' && for z in *.zip; do unzip -q \"$z\"; done"
    assert line == (f"error: training dataset LASOT: no sequences under '{root}' (from --data LASOT={root}), which "
                    f"holds 2 zip archive(s) (cat.zip, dog.zip); extract them there: {command}")
    if shutil.which("unzip"):
        subprocess.run(["bash", "-c", command], check=True)
        assert cli("train", "-c", cfg, "-o", out, "--data", f"LASOT={root}", *TINY).exit_code == 0


def test_a_sequence_of_neither_lasot_split_is_named_as_such(tmp_path):
    """atv-1 (LaSOT-extension) under a LaSOT root, asked for on the test split: it was named a training sequence, to
    evaluate with --split train, which does not hold it (the official train split)."""
    root = _lasot(tmp_path / "LaSOT", ("atv-1", "cat-2"))
    with pytest.raises(DatasetError) as err:
        get_sequences("lasot", root, names=["atv-1"])
    assert str(err.value) == ("sequence 'atv-1' is in neither LaSOT's test split nor its train split (it is no "
                              "<class>-N of LaSOT's 70 classes, N = 1..20); pass --split all to evaluate it")
    assert [s.name for s in get_sequences("lasot", root, split="all", names=["atv-1"])] == ["atv-1"]
    with pytest.raises(DatasetError, match="'cat-2' is a LaSOT training sequence"):
        get_sequences("lasot", root, names=["cat-2"])


def test_coco_images_extracted_one_folder_too_deep_are_named_with_the_move(tmp_path):
    """train2017.zip extracted into train2017/ (unzip -d train2017): the images are in train2017/train2017/, and the
    refusal said to extract the frames, which were there. It names them and the move, which the test runs."""
    import shutil
    import subprocess

    coco = _coco(tmp_path / "coco")
    (coco / "deep").mkdir()
    shutil.move(str(coco / "train2017"), str(coco / "deep" / "train2017"))
    shutil.move(str(coco / "deep"), str(coco / "train2017"))
    out = tmp_path / "out"
    line = one_line_error(cli("train", "-c", config(tmp_path, "COCO17"), "-o", out, "--data", f"COCO17={coco}", *TINY))
    images, tmp = coco / "train2017", f"'{coco / 'train2017'}.tmp'"
    move = f"mv '{images}' {tmp} && mv {tmp}/'train2017' '{images}' && rmdir {tmp}"
    assert line == ("error: training dataset COCO17: none of the 1 sequence(s) checked has its frames on disk (the "
                    f"first: frame {images / '000000000001.jpg'} is missing, but "
                    f"{images / 'train2017' / '000000000001.jpg'} is there (extracted one folder too deep); move that "
                    f"folder up: {move})")
    assert not out.exists()
    subprocess.run(["bash", "-c", move], check=True)
    assert sorted(p.name for p in images.iterdir()) == ["000000000001.jpg"]
