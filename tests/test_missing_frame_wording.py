"""A frame not on disk is named in one wording, whether dt eval finds it (droptrack.data.sequence.missing_frame) or
dt train's check before training does (droptrack.train.sampler.check_frames): the two had each written their own,
near duplicates that differed ('extract the benchmark's images under the root' / 'extract the dataset's frames
under its root'), and only training named an archive extracted one folder too deep, which dt eval called missing
('re-download or re-extract this sequence': a download that changes nothing). Each case is checked against the
literal wording, both places, and the move dt eval now names is run and then tracks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from droptrack.data.sequence import Sequence, missing_frame
from droptrack.errors import TrainingError
from droptrack.train.sampler import check_frames
from helpers import cli, img, one_line_error, text


def _training_line(frame: Path) -> str:
    """What check_frames says for one sequence whose only frame is `frame`, inside its '(the first: ...)'."""
    seq = Sequence(name="s", dataset="got10k", frames=[frame], video=None, boxes=np.array([[1.0, 1.0, 4.0, 4.0]]))
    with pytest.raises(TrainingError) as err:
        check_frames("GOT10K_train_full", [seq], [np.array([True])], np.array([0]))
    prefix = "training dataset GOT10K_train_full: none of the 1 sequence(s) checked has its frames on disk (the first: "
    assert str(err.value).startswith(prefix) and str(err.value).endswith(")")
    return str(err.value)[len(prefix):-1]


def _move_up(folder: Path) -> str:
    tmp = f"'{folder}.tmp'"
    return f"mv '{folder}' {tmp} && mv {tmp}/'{folder.name}' '{folder}' && rmdir {tmp}"


def test_each_case_has_one_wording_in_eval_and_training(tmp_path):
    gone = tmp_path / "a" / "img" / "00000001.jpg"                      # the folder was never extracted
    hole = tmp_path / "b" / "img" / "00000001.jpg"                      # the folder is there, the file is not
    img(hole.parent / "00000002.jpg")
    upper = tmp_path / "c" / "img" / "00000001.jpg"                     # 00000001.JPG
    img(upper.parent / "00000001.JPG")
    deep = tmp_path / "d" / "img" / "00000001.jpg"                      # unzip img.zip -d img: img/img/00000001.jpg
    img(deep.parent / "img" / "00000001.jpg")
    expected = {
        gone: f"frame {gone} is missing, and so is its folder {gone.parent}; extract the dataset's images under its "
              "root",
        hole: f"frame {hole} is missing; re-download or re-extract this sequence",
        upper: f"frame {upper} is missing, but 00000001.JPG is there (its name in other case, which Linux and the "
               f"benchmark's loaders tell apart); rename the frames: cd '{upper.parent}' && for f in *.JPG; do mv "
               "\"$f\" \"${f%.JPG}.jpg\"; done",
        deep: f"frame {deep} is missing, but {deep.parent / 'img' / '00000001.jpg'} is there (extracted one folder "
              f"too deep); move that folder up: {_move_up(deep.parent)}"}
    for frame, line in expected.items():
        assert str(missing_frame(frame)) == line
        assert _training_line(frame) == line


def test_dt_eval_names_frames_extracted_one_folder_too_deep_with_the_move(tmp_path):
    seq = tmp_path / "otb" / "Biker"
    text(seq / "groundtruth_rect.txt", "4,4,8,8\n" * 3)
    for i in (1, 2, 3):
        img(seq / "img" / "img" / f"{i:04d}.jpg", size=(32, 24))
    args = ("eval", "--dataset", "otb", "--root", tmp_path / "otb", "--sequences", "Biker", "--tracker", "mosse",
            "-o", tmp_path / "out")
    line = one_line_error(cli(*args))
    move = _move_up(seq / "img")
    assert line.endswith(f"is there (extracted one folder too deep); move that folder up: {move}"), line
    subprocess.run(["bash", "--norc", "--noprofile", "-c", move], check=True)
    res = cli(*args)
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "out" / "mosse" / "Biker.txt").read_text().splitlines()) == 3
