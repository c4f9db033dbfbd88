"""A folder of numbered frames holding other images (norm_precision.png an old dt wrote there as --output, a
cover.jpg, a screenshot): `dt run FOLDER` tracked norm_precision.png as frame 0 (names without digits sorted first),
every box on the frame before its own, with only a size note. They are now left out, named in one warning, by
`dt run` and the dataset readers (dt eval / dt bench on folders, dt train's), while the real layouts read as before."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.errors import StrayImagesWarning
from droptrack.runtime.sources import open_source
from helpers import cli, text

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py

STRAYS = {"norm_precision.png": (300, 400), "cover.jpg": (60, 60), "Screenshot 2026-01-01 at 10.00.00.png": (90, 160)}


def _frames(folder: Path, names: list[str], strays: dict[str, tuple[int, int]] | None = None) -> None:
    """Frames of value 20 * (1 + their rank in `names`), 48x64, and black strays of their (height, width)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, nm in enumerate(names):
        cv2.imwrite(str(folder / nm), np.full((48, 64, 3), 20 * (i + 1), np.uint8))
    for nm, (h, w) in (strays or {}).items():
        cv2.imwrite(str(folder / nm), np.zeros((h, w, 3), np.uint8))


def _one_warning(caught: list) -> str:
    (w,) = [w for w in caught if issubclass(w.category, StrayImagesWarning)]
    return str(w.message)


def test_stray_images_are_left_out_of_a_run_with_one_warning_naming_them(tmp_path):
    folder = tmp_path / "frames"
    _frames(folder, [f"{i:08d}.jpg" for i in range(1, 6)], STRAYS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_source(folder) as src:
            assert [int(f.image[0, 0, 0]) for f in src] == [20, 40, 60, 80, 100]
    said = _one_warning(caught)
    assert all(nm in said for nm in STRAYS) and "00000001.jpg" in said and "move them out" in said
    result = cli("run", folder, "--init", "10,10,20,20", "--output", tmp_path / "boxes.txt")
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if "norm_precision.png" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "cover.jpg" in lines[0]
    assert "differ in size" not in result.output
    assert len((tmp_path / "boxes.txt").read_text().splitlines()) == 5


@pytest.mark.parametrize("reader", ["folder", "synth"])
def test_dataset_readers_leave_stray_images_out(tmp_path, reader):
    """dt eval / dt bench --dataset folder and dt train's reader of one's own footage: one row per numbered frame,
    each on its own frame (cover.jpg was frame 0, or an image more than rows refused)."""
    seq = tmp_path / "porch_cam"
    _frames(seq, [f"frame_{i:04d}.png" for i in range(1, 5)], STRAYS)
    text(seq / "groundtruth.txt", "1,2,10,8\n2,3,10,8\n3,4,10,8\n4,5,10,8\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (s,) = get_sequences(reader, tmp_path if reader == "synth" else seq)
        assert [p.name for p in s.frames] == [f"frame_{i:04d}.png" for i in range(1, 5)]
        assert [int(s.frame(i)[0, 0, 0]) for i in range(4)] == [20, 40, 60, 80]
    assert "cover.jpg" in _one_warning(caught)


def test_got10k_test_split_counts_no_cover_jpg_as_a_frame(tmp_path):
    seq = tmp_path / "test" / "GOT-10k_Test_000001"
    _frames(seq, [f"{i:08d}.jpg" for i in range(1, 4)], {"cover.jpg": (60, 60)})
    text(seq / "groundtruth.txt", "1,2,10,8\n")
    text(tmp_path / "test" / "list.txt", "GOT-10k_Test_000001\n")
    with pytest.warns(StrayImagesWarning, match="cover.jpg"):
        (s,) = get_sequences("got10k_test", tmp_path)
    assert [p.name for p in s.frames] == ["00000001.jpg", "00000002.jpg", "00000003.jpg"]


@pytest.mark.parametrize("names", [
    [f"{i:08d}.jpg" for i in range(1, 13)],                     # GOT-10k, LaSOT
    [f"{i:06d}.jpg" for i in range(1, 13)],                     # UAV123
    [f"{i}.jpg" for i in range(12)],                            # TrackingNet: natural order, no padding
    [f"IMG_{i:04d}.JPG" for i in range(1, 13)],                 # a phone's export
    [f"frame_{i:04d}.png" for i in range(1, 13)],               # ffmpeg frame_%04d.png
    [f"frame_{i}.png" for i in range(1, 13)],                   # ffmpeg frame_%d.png
    ["1700000000.25.png", "1700000000.5.png", "1700000001.png"],   # decimal timestamps, varying digits
    ["frame.jpg", "frame (1).jpg", "frame (2).jpg", "frame (10).jpg"],   # a browser's copies of one name
])
def test_real_layouts_read_every_image_in_order_without_a_warning(tmp_path, names):
    folder = tmp_path / "seq" / "img"   # OTB's img/0001.jpg lies in img/
    _frames(folder, names)
    text(tmp_path / "seq" / "groundtruth.txt", "1,2,10,8\n" * len(names))
    with warnings.catch_warnings():
        warnings.simplefilter("error", StrayImagesWarning)
        with open_source(folder) as src:
            assert [int(f.image[0, 0, 0]) for f in src] == [20 * (i + 1) for i in range(len(names))]
        (s,) = get_sequences("folder", tmp_path / "seq")
    assert [p.name for p in s.frames] == names


def test_numbered_images_of_another_name_and_the_frames_size_stay_frames(tmp_path):
    """A name with a number but other letters (img_00000003.5.jpg among 0000000N.jpg) of the frames' size is a frame,
    kept in natural order; of another size (a screenshot), a stray."""
    folder = tmp_path / "frames"
    _frames(folder, ["00000001.jpg", "00000002.jpg", "00000003.jpg", "img_00000003.5.jpg", "00000004.jpg"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", StrayImagesWarning)
        with open_source(folder) as src:
            assert [int(f.image[0, 0, 0]) for f in src] == [20, 40, 60, 80, 100]


def test_two_numbered_series_sharing_numbers_are_refused(tmp_path):
    """00001.jpg beside 00001_mask.png (frames and their masks): no pattern held more than half of the images, so both
    were frames, alternating 00001.jpg, 00001_mask.png, 00002.jpg, ...: every jsonl index from 1 on was wrong."""
    import cv2
    import numpy as np

    from droptrack.imagefiles import frames_problem

    for i in range(1, 4):
        cv2.imwrite(str(tmp_path / f"{i:05d}.jpg"), np.full((40, 50, 3), 50 * i, np.uint8))
        cv2.imwrite(str(tmp_path / f"{i:05d}_mask.png"), np.zeros((40, 50), np.uint8))
    assert frames_problem(tmp_path) == (
        f"folder '{tmp_path}' holds two numbered series with the same numbers (00001.jpg and 00001_mask.png: frames "
        "and their masks, or two shots?), which would alternate frame by frame as one sequence; move one series out "
        "of the folder")
    for p in tmp_path.glob("*_mask.png"):   # numbers of their own: two shots one after the other, as before
        p.rename(tmp_path / p.name.replace("0000", "1000"))
    assert frames_problem(tmp_path) is None
