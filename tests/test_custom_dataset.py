"""One's own footage in the GOT-10k layout (list.txt, <seq>/groundtruth.txt + frames): what `dt train --data PATH`
(a bare PATH is SYNTH) and `dt eval --dataset synth --root PATH` read, with no `dt data synth` marker."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.data.synth_journal import PROGRESS
from droptrack.errors import DatasetError, InputError
from helpers import text

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def tiny_yaml(folder, model: dict):
    """tiny_ce_test.yaml with these MODEL keys set, written to folder/tiny.yaml."""
    import yaml

    import droptrack

    cfg = yaml.safe_load((Path(droptrack.__file__).parent / "configs" / "tiny_ce_test.yaml").read_text())
    cfg["MODEL"].update(model)
    (folder / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    return folder / "tiny.yaml"


def _own_set(root, names=("porch_cam", "yard_cam")):
    """Two 3-frame sequences named as a user names them, boxes written by hand."""
    for nm in names:
        (root / nm).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(root / nm / f"{i + 1:08d}.jpg"), np.full((24, 32, 3), 40 * i, np.uint8))
        text(root / nm / "groundtruth.txt", "1,2,10,8\n2,3,10,8\n3,4,10,8\n")
    text(root / "list.txt", "".join(f"{nm}\n" for nm in names))
    return root


def test_own_got10k_layout_folder_is_read_without_a_synth_marker(tmp_path):
    seqs = get_sequences("synth", _own_set(tmp_path / "mine"))   # was 'its generation was interrupted; run dt data synth'
    assert [s.name for s in seqs] == ["porch_cam", "yard_cam"]
    assert seqs[1].boxes.tolist() == [[1, 2, 10, 8], [2, 3, 10, 8], [3, 4, 10, 8]] and len(seqs[1].frames) == 3


def test_a_killed_synth_generation_is_still_refused(tmp_path):
    mine = _own_set(tmp_path / "mine")
    text(mine / PROGRESS, "{}\n")                              # the generator's journal: a run was cut short
    with pytest.raises(DatasetError, match="generation was interrupted"):
        get_sequences("synth", mine)
    named = _own_set(tmp_path / "named", names=("synth_train_00001",))
    with pytest.raises(DatasetError, match="generation was interrupted"):
        get_sequences("synth", named)


def test_a_second_final_pt_names_the_name_option(tmp_path):
    """Every dt train run ends in final.pt, so two fine-tunes scored into one results folder share the default
    tracker name 'final': the refusal named only another --output or deleting the first model's results."""
    import json

    from droptrack.eval.resume import check_manifest

    ident = {"artifact": "a/final.pt", "artifact_sha256": "aa", "external_data": None, "config": "c",
             "dataset": "synth", "tracker_overrides": None, "realtime": None}
    (tmp_path / "eval.json").write_text(json.dumps({**ident, "inputs": {"porch_cam": "f"}}))
    text(tmp_path / "porch_cam.txt", "1\t2\t10\t8\n")
    with pytest.raises(InputError, match="holds results of another run.*--name") as err:
        check_manifest(tmp_path, {**ident, "artifact": "b/final.pt", "artifact_sha256": "bb"}, "cpu", {})
    assert "\n" not in str(err.value)
    assert (tmp_path / "porch_cam.txt").read_text() == "1\t2\t10\t8\n"


def test_a_root_with_train_and_val_folders_is_scored_on_val_and_trained_on_train(tmp_path):
    """dt eval --dataset synth --root MINE, MINE holding train/ and val/ (GOT-10k's layout), scored the training
    sequences as if held out; GOT-10k's reader scores val there, and dt train still trains on train/."""
    from droptrack.train.data import load_datasets

    _own_set(tmp_path / "train", names=("porch_cam", "yard_cam"))
    _own_set(tmp_path / "val", names=("gate_cam",))
    assert [s.name for s in get_sequences("synth", tmp_path)] == ["gate_cam"]
    assert [s.name for s in get_sequences("synth", tmp_path, split="train")] == ["porch_cam", "yard_cam"]
    assert [s.name for s in load_datasets(["SYNTH"], {"SYNTH": str(tmp_path)})[0]] == ["porch_cam", "yard_cam"]


def test_a_folder_of_videos_as_training_root_says_training_reads_frames(tmp_path):
    """dt eval reads a folder of videos with box files (--dataset video); dt train does not, and said only that the
    folder should hold list.txt and sequence folders."""
    from droptrack.errors import TrainingError
    from droptrack.train.data import check_nonempty, load_datasets

    (tmp_path / "porch.mp4").write_bytes(b"\x00" * 64)
    text(tmp_path / "porch.txt", "1,2,10,8\n")
    roots = {"SYNTH": str(tmp_path)}
    with pytest.raises(TrainingError, match=r"holds video files, and training reads frames: .*<seq>/00000001\.jpg"):
        check_nonempty(["SYNTH"], [1.0], roots, load_datasets(["SYNTH"], roots))


def test_a_pretrain_file_that_exists_is_not_silently_ignored(tmp_path):
    """The official trainer loads MODEL.PRETRAIN_FILE; dt train takes --pretrained only, and a config naming an
    existing file trained from scratch after a yellow line."""
    from droptrack.config import load_config
    from droptrack.errors import ConfigError
    from droptrack.model import build_model
    from droptrack.model.checkpoint import save_checkpoint
    from droptrack.train.options import TrainOptions, prepare

    cfg = load_config("tiny_ce_test")
    weights = save_checkpoint(tmp_path / "OSTrack_mine.pt", build_model(cfg), cfg)
    config = tiny_yaml(tmp_path, {"PRETRAIN_FILE": str(weights)})
    with pytest.raises(ConfigError, match=rf"PRETRAIN_FILE names the file '{weights}'.*--pretrained {weights}"):
        prepare(TrainOptions(config=str(config), output=tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    prepare(TrainOptions(config=str(config), output=tmp_path / "out", pretrained=weights))   # as told: accepted
    prepare(TrainOptions(config=str(tiny_yaml(tmp_path, {"PRETRAIN_FILE": "mae_pretrain_vit_base.pth"})),
                         output=tmp_path / "out"))                      # only a name, as in the official configs


def test_a_dataset_name_of_ones_own_names_the_name_that_reads_it():
    """OSTrack's way is a new dataset class and name; droptrack has no such hook, and the refusal of a name of one's
    own listed the official datasets only."""
    from droptrack.errors import ConfigError
    from droptrack.train.data import check_data_names

    with pytest.raises(ConfigError, match=r"'MYCAM' is not a training dataset .*own footage .* is SYNTH"):
        check_data_names({}, ["MYCAM"])


def test_own_frames_named_otherwise_than_got10k_are_read_in_natural_order(tmp_path):
    """ffmpeg's frame_%d.jpg or %04d.png: the reader looked for 00000001.jpg and told to re-download the sequence."""
    seq = tmp_path / "porch_cam"
    seq.mkdir()
    for i in (1, 2, 10):                                    # 10 after 2: natural order, not by name
        cv2.imwrite(str(seq / f"frame_{i}.png"), np.full((24, 32, 3), 20 * i, np.uint8))
    text(seq / "groundtruth.txt", "1,2,10,8\n2,3,10,8\n3,4,10,8\n")
    (s,) = get_sequences("synth", tmp_path)
    assert [p.name for p in s.frames] == ["frame_1.png", "frame_2.png", "frame_10.png"] and len(s.boxes) == 3
    text(seq / "groundtruth.txt", "1,2,10,8\n2,3,10,8\n3,4,10,8\n4,5,10,8\n")
    with pytest.raises(DatasetError, match="has 4 GT rows but 3 images"):
        get_sequences("synth", tmp_path)


def test_a_missing_frame_of_ones_own_sequence_is_named_when_the_set_is_read(tmp_path):
    """One GT row too many: dt train failed at the epoch that first sampled the frame, telling to re-download."""
    mine = _own_set(tmp_path / "mine")
    (mine / "yard_cam" / "00000003.jpg").unlink()
    with pytest.raises(DatasetError, match=r"yard_cam has 3 GT rows but no frame 00000003\.jpg; add the missing"):
        get_sequences("synth", mine)


def test_val_data_reads_held_out_footage_as_dt_eval_does(tmp_path):
    """--val-data without list.txt was 'got10k split folder .../val is missing; point the root at the folder that
    contains train/val/test', while dt eval --dataset synth and dt train --data read the same folder."""
    from droptrack.train.validate import val_sequences

    held = _own_set(tmp_path / "held")
    (held / "list.txt").unlink()
    assert [s.name for s in val_sequences(held)] == ["porch_cam", "yard_cam"]
    _own_set(tmp_path / "both" / "train", names=("porch_cam",))
    _own_set(tmp_path / "both" / "val", names=("gate_cam",))
    assert [s.name for s in val_sequences(tmp_path / "both")] == ["gate_cam"]


def test_a_got10k_split_folder_without_list_txt_is_named_as_such(tmp_path):
    root = _own_set(tmp_path / "val")     # was 'got10k split folder .../val/val is missing'
    (root / "list.txt").unlink()
    with pytest.raises(DatasetError, match=r"val holds sequence folders but no list\.txt"):
        get_sequences("got10k", root, split="val")
