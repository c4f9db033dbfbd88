"""A folder of clips with their CLIP.txt box files, or UAV123's, NfS's or TrackingNet's anno/ folder, holds files
named as a tracker's results (<sequence>.txt). Passed to dt analyze as a result folder (the clips' folder given as
both RESULT_DIR and --root), the ground truth was scored against itself: a perfect AUC 95.24 reported as a tracker's.
Such a file is now refused, naming it as the sequence's ground-truth file."""

import json
from pathlib import Path

import cv2
import numpy as np

from helpers import cli, text


def _clip(path: Path, frames: int = 6) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        frame = np.full((48, 64, 3), 40, np.uint8)
        frame[10 + i:30 + i, 12:36] = (30, 200, 240)
        writer.write(frame)
    writer.release()


def test_clips_folder_given_as_its_own_result_folder(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    _clip(clips / "walk.avi")
    text(clips / "walk.txt", "".join(f"12,{10 + i},24,20\n" for i in range(6)))
    out = cli("analyze", clips, "--dataset", "video", "--root", clips, "-o", tmp_path / "an")
    assert out.exit_code == 2, out.output
    assert f"{clips / 'walk.txt'} is the ground-truth file of walk (the dataset's own box file), not a tracker's " \
           "result" in out.output, out.output
    assert not (tmp_path / "an" / "report.json").exists()
    # a tracker's folder beside it is scored as before: its file is no ground truth
    text(tmp_path / "res" / "walk.txt", "".join(f"12\t{10 + i}\t24\t20\n" for i in range(6)))
    out = cli("analyze", tmp_path / "res", "--dataset", "video", "--root", clips, "-o", tmp_path / "an")
    assert out.exit_code == 0, out.output
    report = json.loads((tmp_path / "an" / "report.json").read_text())
    assert report["trackers"][0]["scores"]["auc"] == 20 / 21


def test_uav123_anno_folder_given_as_a_result_folder(tmp_path: Path) -> None:
    anno = tmp_path / "uav" / "anno" / "UAV123"
    text(anno / "bird1_2.txt", "1,1,4,4\nNaN,NaN,NaN,NaN\n1,1,4,4\n")   # read under pysot's name, bird1_2.txt
    out = cli("analyze", anno, "--dataset", "uav", "--root", tmp_path / "uav", "-o", tmp_path / "an")
    assert out.exit_code == 2, out.output
    assert f"{anno / 'bird1_2.txt'} is the ground-truth file of uav_bird1_2" in out.output, out.output


def test_trackingnet_anno_folder_given_as_a_result_folder(tmp_path: Path) -> None:
    chunk = tmp_path / "tn" / "TRAIN_0"
    text(chunk / "anno" / "a_1.txt", "1,1,4,4\n2,1,4,4\n")
    for i in range(2):
        text(chunk / "frames" / "a_1" / f"{i}.jpg", "")   # scoring reads no image
    out = cli("analyze", chunk / "anno", "--dataset", "trackingnet", "--split", "TRAIN_0", "--root", tmp_path / "tn",
              "-o", tmp_path / "an")
    assert out.exit_code == 2, out.output
    assert f"{chunk / 'anno' / 'a_1.txt'} is the ground-truth file of a_1" in out.output, out.output
