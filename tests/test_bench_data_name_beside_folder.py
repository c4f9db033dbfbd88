"""`dt bench --data otb --root otb`, run in the folder that holds the OTB root `otb/`, read `--data otb` as that
folder, so it refused --root ('--data otb is a folder and is read as it is: drop --root'), and dropping --root read
the OTB root as a folder of images ('no images under otb'). A dataset name given with --root is now the dataset,
wherever the command runs; `./otb` still names the folder."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("cv2")

from tests.helpers import cli, img, text  # noqa: E402


def _otb(root) -> None:
    for name in ("Deer", "Dog"):
        text(root / name / "groundtruth_rect.txt", "10,10,20,20\n" * 4)
        for i in range(1, 5):
            img(root / name / "img" / f"{i:04d}.jpg", color=(40 * i, 90, 200), size=(64, 48))


def test_a_dataset_name_with_root_is_the_dataset_beside_a_folder_of_that_name(tmp_path, monkeypatch):
    _otb(tmp_path / "otb")
    monkeypatch.chdir(tmp_path)
    res = cli("bench", "--tracker", "kcf", "--data", "otb", "--root", "otb", "-o", "bench")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "bench" / "bench.json").read_text())["data"]
    assert (data["kind"], data["tag"], data["sequences"]) == ("dataset", "otb", {"Deer": 4, "Dog": 4}), data


def test_the_folder_is_still_read_as_a_folder_by_its_path(tmp_path, monkeypatch):
    _otb(tmp_path / "otb")
    monkeypatch.chdir(tmp_path)
    res = cli("bench", "--tracker", "kcf", "--data", "./otb", "--root", "otb", "-o", "bench")
    assert res.exit_code == 2
    assert "--data ./otb is a folder and is read as it is: drop --root" in res.output
