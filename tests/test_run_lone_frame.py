"""`dt run frames/00000001.jpg` (one frame of a folder of frames, where the folder was meant) tracked that photo as
a one-frame source and said nothing but 'no frame tracked after the init frame'; it now names the folder to pass."""

from __future__ import annotations

import shlex

import cv2
import numpy as np

from helpers import cli


def frames(folder, names) -> None:
    """Small textured photos (the init box must not be one flat colour) of these names in `folder`."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in names:
        cv2.imwrite(str(folder / name), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))


def notes(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [ln for ln in result.output.splitlines() if ln.startswith("note: ")]


def test_one_numbered_frame_names_its_folder(tmp_path):
    folder = tmp_path / "my frames"
    frames(folder, ["frame_1.jpg", "frame_2.jpg", "frame_10.jpg", "cover.jpg"])
    found = notes(cli("run", folder / "frame_2.jpg", "--init", "10,10,20,20"))
    assert found == [f"note: 'frame_2.jpg' is one photo, tracked as a single frame; its folder holds 3 frames: to "
                     f"track them, pass the folder as SOURCE: dt run {shlex.quote(str(folder))} ..."]
    assert shlex.split(found[0].split("SOURCE: ")[1])[:3] == ["dt", "run", str(folder)]


def test_a_photo_among_unrelated_photos_gets_no_note(tmp_path):
    frames(tmp_path / "photos", ["astronaut.png", "coffee.png", "camera.png"])
    assert notes(cli("run", tmp_path / "photos" / "coffee.png", "--init", "10,10,20,20")) == []
    frames(tmp_path / "one", ["00000001.jpg"])
    assert notes(cli("run", tmp_path / "one" / "00000001.jpg", "--init", "10,10,20,20")) == []
