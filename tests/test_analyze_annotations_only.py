"""Scoring result files needs the ground truth, not the images: pytracking's analysis builds frame paths it never
opens. dt analyze on UAV123 with only anno/ extracted (its images are a separate 13 GB folder, data_seq/) or on OTB
sequences holding only groundtruth_rect.txt refused ('UAV123 image folder ... is missing; extract data_seq/UAV123',
'frame .../img/0001.jpg is missing'), while LaSOT scored without images. They now score (hand-computed values
below); dt eval still names the missing frame before tracking."""

import json
from pathlib import Path

import pytest

from helpers import cli, text


def _scores(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())["trackers"][0]["scores"]


def test_uav123_annotations_only(tmp_path: Path) -> None:
    anno = tmp_path / "uav" / "anno" / "UAV123"
    text(anno / "bird1_2.txt", "1,1,4,4\nNaN,NaN,NaN,NaN\n1,1,4,4\n1,1,4,4\n")   # split part: bird1 from 775
    text(anno / "car1_s.txt", "10,10,20,20\n" * 4)
    text(tmp_path / "res" / "uav_bird1_2.txt", "1\t1\t4\t4\n" * 4)
    text(tmp_path / "res" / "car1_s.txt", "10\t10\t20\t20\n" * 2 + "50\t50\t20\t20\n" * 2)
    out = cli("analyze", tmp_path / "res", "--dataset", "uav", "--root", tmp_path / "uav", "-o", tmp_path / "an")
    assert out.exit_code == 0, out.output
    # bird1_2: the NaN frame is invalid (IoU -1: a miss; centre error -1 under 'uav': a hit), 3 of 4 frames IoU 1;
    # car1_s: 2 of 4 frames IoU 1, 2 with no overlap and centre 40*sqrt(2) px off
    auc = (3 / 4 * 20 / 21 + 2 / 4 * 20 / 21) / 2
    assert _scores(tmp_path / "an")["auc"] == pytest.approx(auc, abs=1e-12)
    assert _scores(tmp_path / "an")["precision"] == pytest.approx((1 + 2 / 4) / 2, abs=1e-12)


def test_otb_annotations_only_irregular_ranges_kept(tmp_path: Path) -> None:
    otb = tmp_path / "otb"
    text(otb / "Tiger1" / "groundtruth_rect.txt", "".join(f"{k},1,4,4\n" for k in range(1, 355)))
    text(otb / "Jogging" / "groundtruth_rect.2.txt", "2,2,4,4\n" * 307)
    # Tiger1's scored frames are images 6..354 (its first 5 rows are left out): row k of a result is GT row 5 + k
    text(tmp_path / "res" / "Tiger1.txt", "".join(f"{k}\t1\t4\t4\n" for k in range(6, 355)))
    text(tmp_path / "res" / "Jogging_2.txt", "2\t2\t4\t4\n" * 307)
    out = cli("analyze", tmp_path / "res", "--dataset", "otb", "--root", otb, "--sequences", "Tiger1,Jogging_2",
              "-o", tmp_path / "an")
    assert out.exit_code == 0, out.output
    assert _scores(tmp_path / "an")["auc"] == pytest.approx(20 / 21, abs=1e-12)


def test_eval_without_images_names_the_missing_frame(tmp_path: Path) -> None:
    text(tmp_path / "otb" / "Biker" / "groundtruth_rect.txt", "1,1,4,4\n" * 3)
    out = cli("eval", "--dataset", "otb", "--root", tmp_path / "otb", "--sequences", "Biker", "--tracker", "mosse",
              "-o", tmp_path / "out")
    assert out.exit_code == 2
    folder = tmp_path / "otb" / "Biker" / "img"
    assert f"frame {folder / '0001.jpg'} is missing, and so is its folder {folder}; extract the dataset's images" \
        in out.output, out.output
