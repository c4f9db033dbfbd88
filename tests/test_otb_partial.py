"""A partial OTB download (fewer than OTB-100's 100 sequences) is scored with one warning line saying how many of the
100 are there and that the score is not comparable to published OTB-100 numbers; it was scored silently. The full set
(98 folders of the official download: Jogging and Skating2 hold two targets, Human4 only its second) is not warned
about, nor a subset picked with --sequences."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")

from droptrack.data import get_sequences  # noqa: E402
from droptrack.errors import PartialDatasetWarning  # noqa: E402
from droptrack.eval.results import write_result  # noqa: E402
from tests.helpers import cli, img, text  # noqa: E402

# The folders of the official OTB-100 download (OTB-2015), one per video.
FOLDERS = """Basketball Biker Bird1 Bird2 BlurBody BlurCar1 BlurCar2 BlurCar3 BlurCar4 BlurFace BlurOwl Board Bolt Bolt2
Box Boy Car1 Car2 Car24 Car4 CarDark CarScale ClifBar Coke Couple Coupon Crossing Crowds Dancer Dancer2 David David2
David3 Deer Diving Dog Dog1 Doll DragonBaby Dudek FaceOcc1 FaceOcc2 Fish FleetFace Football Football1 Freeman1 Freeman3
Freeman4 Girl Girl2 Gym Human2 Human3 Human4 Human5 Human6 Human7 Human8 Human9 Ironman Jogging Jump Jumping KiteSurf
Lemming Liquor Man Matrix Mhyang MotorRolling MountainBike Panda RedTeam Rubik Shaking Singer1 Singer2 Skater Skater2
Skating1 Skating2 Skiing Soccer Subway Surfer Suv Sylvester Tiger1 Tiger2 Toy Trans Trellis Twinnings Vase Walking
Walking2 Woman""".split()
# Sequences whose official groundtruth_rect.txt starts at a later image: (first image, rows).
SHIFTED = {"BlurCar1": (247, 742), "BlurCar3": (3, 357), "BlurCar4": (18, 380), "David": (300, 471),
           "Tiger1": (6, 354)}
ROW = "10,10,20,20\n"


def _otb(root: Path, folders: list[str]) -> None:
    for name in folders:
        first, rows = SHIFTED.get(name, (1, 4))
        if name in ("Jogging", "Skating2", "Human4"):
            for k in (1, 2):   # Human4's groundtruth_rect.1.txt is not an OTB-100 sequence
                text(root / name / f"groundtruth_rect.{k}.txt", ROW * rows)
        else:
            text(root / name / "groundtruth_rect.txt", ROW * rows)
        for i in range(first, first + 4):
            img(root / name / "img" / f"{i:0{5 if name == 'Board' else 4}d}.jpg", size=(64, 48))


def _read(root: Path, names: list[str] | None = None) -> tuple[int, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seqs = get_sequences("otb", root, names=names)
    return len(seqs), [str(w.message) for w in caught if issubclass(w.category, PartialDatasetWarning)]


def test_the_full_set_is_100_sequences_and_not_warned_about(tmp_path):
    assert len(FOLDERS) == 98
    _otb(tmp_path, FOLDERS)
    assert _read(tmp_path) == (100, [])


def test_a_partial_download_is_scored_with_one_warning(tmp_path):
    _otb(tmp_path, ["Biker", "Deer", "Human4", "Jogging"])   # 5 sequences: Biker, Deer, Human4_2, Jogging_1/2
    count, said = _read(tmp_path)
    assert count == 5
    assert said == [f"OTB root {tmp_path} holds 5 of the 100 OTB-100 sequences (95 missing: Basketball, Bird1, "
                    "Bird2, BlurBody, BlurCar1, ...), so its scores are not comparable to published OTB-100 numbers; "
                    "download the missing sequences for a full OTB-100 score"]
    assert _read(tmp_path, ["Deer", "Jogging_2"]) == (2, [])   # a subset picked on purpose


def test_dt_eval_analyze_and_bench_say_it_in_one_line(tmp_path):
    _otb(tmp_path / "otb", ["Deer", "Jogging"])
    for name in ("Deer", "Jogging_1", "Jogging_2"):
        write_result(tmp_path / "res" / "mine" / f"{name}.txt", np.array([[10, 10, 20, 20]] * 4))
    runs = {"eval": cli("eval", "--dataset", "otb", "--root", tmp_path / "otb", "--tracker", "kcf", "-o",
                        tmp_path / "ev"),
            "analyze": cli("analyze", tmp_path / "res" / "mine", "--dataset", "otb", "--root", tmp_path / "otb",
                           "-o", tmp_path / "an"),
            "bench": cli("bench", "--tracker", "kcf", "--data", "otb", "--root", tmp_path / "otb", "-o",
                         tmp_path / "bench")}
    for command, res in runs.items():
        assert res.exit_code == 0, (command, res.output)
        said = [ln for ln in res.output.splitlines() if "OTB-100" in ln]
        assert said == [f"warning: OTB root {tmp_path / 'otb'} holds 3 of the 100 OTB-100 sequences (97 missing: "
                        "Basketball, Biker, Bird1, Bird2, BlurBody, ...), so its scores are not comparable to "
                        "published OTB-100 numbers; download the missing sequences for a full OTB-100 score"], command
