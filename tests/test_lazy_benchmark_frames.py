"""TNL2K and NfS frames are rules found with a few file checks, not folder listings (as LaSOT, UAV, OTB and
TrackingNet train): reading the benchmark lists no frame folder, the frames are those of the official layouts, and
a frame missing from the disk is one line naming it when the sequence is tracked."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.data.frames import NumberedFrames
from droptrack.errors import DatasetError
from droptrack.eval.workers import track_sequence
from helpers import img, text

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


class Tracker:
    """Reports the init box on every frame."""

    def initialize(self, frame: np.ndarray, box: np.ndarray) -> None:
        self.box = np.asarray(box, dtype=np.float64)

    def track(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        return self.box, 1.0


def _read_unlisted(dataset: str, root: Path) -> tuple[list, list[str]]:
    """The sequences of `root`, and every folder listed while reading them."""
    listed: list[str] = []
    real_scandir, real_listdir = os.scandir, os.listdir

    def scandir(path: str | os.PathLike = ".") -> object:
        listed.append(str(path))
        return real_scandir(path)

    def listdir(path: str | os.PathLike = ".") -> list[str]:
        listed.append(str(path))
        return real_listdir(path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "scandir", scandir)
        mp.setattr(os, "listdir", listdir)
        seqs = get_sequences(dataset, root)
    return seqs, listed


def test_tnl2k_frames_are_a_rule_and_a_gap_is_named_when_tracked(tmp_path: Path) -> None:
    root = tmp_path / "tnl2k"
    text(root / "Cartoon_1" / "groundtruth.txt", "1,2,3,4\n" * 3)
    for i in (1, 2, 3, 4):   # TNL2K names frames 00000001.png ...; one past the last box is never scored
        img(root / "Cartoon_1" / "imgs" / f"{i:08d}.png")
    text(root / "Movie_2" / "groundtruth.txt", "1,2,3,4\n" * 3)
    for i in (0, 2):   # a jpg folder numbered from 00000; 00001.jpg is missing
        img(root / "Movie_2" / "imgs" / f"{i:05d}.jpg")
    seqs, listed = _read_unlisted("tnl2k", root)
    assert not [p for p in listed if Path(p).name == "imgs"]
    cartoon, movie = seqs
    assert isinstance(cartoon.frames, NumberedFrames)
    assert list(cartoon.frames) == [root / "Cartoon_1" / "imgs" / f"0000000{i}.png" for i in (1, 2, 3)]
    assert [p.name for p in movie.frames] == ["00000.jpg", "00001.jpg", "00002.jpg"]
    assert track_sequence(Tracker(), cartoon).boxes.tolist() == [[1, 2, 3, 4]] * 3
    with pytest.raises(DatasetError) as err:
        track_sequence(Tracker(), movie)   # the listing paired 00002.jpg with the second box
    assert str(err.value) == (f"frame {root / 'Movie_2' / 'imgs' / '00001.jpg'} is missing; re-download or "
                              "re-extract this sequence")


def test_tnl2k_folder_not_numbered_from_0_or_1_is_still_its_sorted_listing(tmp_path: Path) -> None:
    root = tmp_path / "tnl2k"
    text(root / "Shot_3" / "groundtruth.txt", "1,2,3,4\n" * 2)
    for name in ("frame_a.jpg", "frame_b.jpg"):
        img(root / "Shot_3" / "imgs" / name)
    (seq,) = get_sequences("tnl2k", root)
    assert [p.name for p in seq.frames] == ["frame_a.jpg", "frame_b.jpg"]


def test_nfs_pytracking_layout_is_a_rule_from_00001(tmp_path: Path) -> None:
    root = tmp_path / "nfs"
    text(root / "anno" / "nfs_Gymnastics.txt", "1\t2\t3\t4\n5\t6\t7\t8\n9\t10\t11\t12\n")
    for i in (1, 2):   # the third frame is not extracted
        img(root / "sequences" / "Gymnastics" / f"{i:05d}.jpg")
    (seq,), listed = _read_unlisted("nfs", root)
    assert not [p for p in listed if Path(p).parent.name == "sequences"]
    assert list(seq.frames) == [root / "sequences" / "Gymnastics" / f"0000{i}.jpg" for i in (1, 2, 3)]
    with pytest.raises(DatasetError, match=r"Gymnastics/00003\.jpg is missing; re-download"):
        track_sequence(Tracker(), seq)


def test_nfs_official_layout_is_counted_without_a_listing(tmp_path: Path) -> None:
    root = tmp_path / "nfs"
    frames = root / "Bee" / "30" / "Bee"
    for i in range(1, 4):
        img(frames / f"{i:05d}.jpg")
    # the 30/ annotation is written at 240 fps: 8 rows per image, every 8th kept
    text(root / "Bee" / "30" / "Bee.txt", "".join(f"1 {i} 10 {i + 5} 20 {i} 0 0 0 \"bee\"\n" for i in range(24)))
    (seq,), listed = _read_unlisted("nfs", root)
    assert not [p for p in listed if Path(p) == frames]
    assert list(seq.frames) == [frames / f"0000{i}.jpg" for i in (1, 2, 3)]
    assert seq.boxes[:, 0].tolist() == [0, 8, 16] and seq.boxes[2].tolist() == [16, 10, 5, 10]


def test_tnl2k_gap_before_extra_images_is_not_shifted_onto_the_boxes(tmp_path: Path) -> None:
    """Its last frame missing, the folder is listed (fewer images than boxes stays a load error); with enough images
    the boxes stay on their own frame numbers: the gap is named, not filled by the next image."""
    root = tmp_path / "tnl2k"
    text(root / "Movie_2" / "groundtruth.txt", "1,2,3,4\n" * 3)
    for i in (1, 2, 4):
        img(root / "Movie_2" / "imgs" / f"{i:08d}.png")
    (seq,) = get_sequences("tnl2k", root)
    assert [p.name for p in seq.frames] == ["00000001.png", "00000002.png", "00000003.png"]
    (root / "Movie_2" / "imgs" / "00000004.png").unlink()
    with pytest.raises(DatasetError, match="has 3 boxes for 2 images"):
        get_sequences("tnl2k", root)


@pytest.mark.parametrize("frames", [0, 1, 2, 3, 7, 8, 9, 33])
def test_counting_numbered_frames_with_file_checks(tmp_path: Path, frames: int) -> None:
    from droptrack.data.frames import count_numbered

    for i in range(1, frames + 1):
        (tmp_path / f"{i:05d}.jpg").write_bytes(b"")
    (tmp_path / f"{frames + 1:06d}.jpg").write_bytes(b"")   # another width: not one of them
    assert count_numbered(tmp_path, 1, 5, ".jpg") == frames
