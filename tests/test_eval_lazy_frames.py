"""Benchmark frame lists are rules, not lists: a LaSOT-sized test set costs no memory per frame before tracking
starts (nor per frame pickled to a worker), and reading the dataset lists no frame folder; the errors, fingerprints
and frame counts stay those of the frames on disk."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.data.frames import NumberedFrames
from droptrack.errors import DatasetError
from droptrack.eval.bench_data import _truncate
from droptrack.eval.fingerprint import fingerprint, same_frames
from droptrack.eval.workers import track_sequence


def _lasot_sequence(root: Path, name: str, n: int, frames: int = 0) -> Path:
    """root/<class>/<name> with n GT rows (box 2,3,8,8), zero flags and the first `frames` frames (16x16 grey)."""
    seq = root / name.rsplit("-", 1)[0] / name
    seq.mkdir(parents=True)
    (seq / "groundtruth.txt").write_text("2,3,8,8\n" * n)
    for flags in ("full_occlusion.txt", "out_of_view.txt"):
        (seq / flags).write_text(",".join("0" * n) + "\n")
    if frames:
        (seq / "img").mkdir()
    for i in range(1, frames + 1):
        cv2.imwrite(str(seq / "img" / f"{i:08d}.jpg"), np.full((16, 16, 3), 128, np.uint8))
    return seq


class Tracker:
    """Reports the init box on every frame."""

    def initialize(self, frame: np.ndarray, box: np.ndarray) -> None:
        self.box = np.asarray(box, dtype=np.float64)

    def track(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        return self.box, 1.0


def test_a_long_lasot_sequence_costs_no_memory_per_frame(tmp_path: Path) -> None:
    seq_dir = _lasot_sequence(tmp_path, "airplane-1", 40_000)
    seq = get_sequences("lasot", tmp_path, split="all")[0]
    assert len(seq) == len(seq.frames) == 40_000
    # LaSOT names frames img/%08d.jpg from 1
    assert seq.frames[0] == seq_dir / "img" / "00000001.jpg"
    assert seq.frames[39_999] == seq_dir / "img" / "00040000.jpg"
    assert seq.frames[-1] == seq_dir / "img" / "00040000.jpg"
    # what a worker process is sent of the frames: a few hundred bytes, not 40,000 paths (a list pickles to ~1 MB)
    assert len(pickle.dumps(seq.frames)) < 1000
    assert pickle.loads(pickle.dumps(seq.frames)) == [seq_dir / "img" / f"{i:08d}.jpg" for i in range(1, 40_001)]


def test_reading_lasot_lists_no_frame_folder_and_tracking_finds_the_gap(tmp_path: Path) -> None:
    _lasot_sequence(tmp_path, "bird-2", 4, frames=4)
    late = _lasot_sequence(tmp_path, "cat-1", 3)   # its frames are not extracted yet
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
        seqs = {s.name: s for s in get_sequences("lasot", tmp_path, split="all")}
    assert not [p for p in listed if Path(p).name == "img"]
    with pytest.raises(DatasetError, match=r"cat-1/img/00000001\.jpg is missing"):
        track_sequence(Tracker(), seqs["cat-1"])
    (late / "img").mkdir()
    for i in (1, 2, 3):
        cv2.imwrite(str(late / "img" / f"{i:08d}.jpg"), np.full((16, 16, 3), 128, np.uint8))
    assert track_sequence(Tracker(), seqs["cat-1"]).boxes.tolist() == [[2, 3, 8, 8]] * 3


def test_fingerprint_is_unchanged_for_resuming_earlier_results(tmp_path: Path) -> None:
    seq_dir = _lasot_sequence(tmp_path, "bird-2", 5, frames=1)
    seq = get_sequences("lasot", tmp_path, split="all")[0]
    # eval.json of earlier runs: sha256 of "<frames> <first box>" and the first frame's bytes, 16 hex digits; this
    # run's adds a part for every frame after a '-', and the earlier one still says the same frames
    first = (seq_dir / "img" / "00000001.jpg").read_bytes()
    earlier = hashlib.sha256(b"5 [2.0, 3.0, 8.0, 8.0]" + first).hexdigest()[:16]
    assert fingerprint(seq).startswith(earlier + "-") and same_frames(earlier, fingerprint(seq))


def test_trackingnet_test_split_is_counted_then_held_as_a_rule(tmp_path: Path) -> None:
    folder = tmp_path / "TEST" / "frames" / "seqA"
    folder.mkdir(parents=True)
    (tmp_path / "TEST" / "anno").mkdir()
    (tmp_path / "TEST" / "anno" / "seqA.txt").write_text("1,2,3,4\n")   # the test split publishes the first box
    for i in range(12):   # TrackingNet: 0.jpg, 1.jpg, ... unpadded
        (folder / f"{i}.jpg").write_bytes(b"")
    seq = get_sequences("trackingnet", tmp_path)[0]
    assert len(seq) == 12 and isinstance(seq.frames, NumberedFrames)
    assert list(seq.frames) == [folder / f"{i}.jpg" for i in range(12)]


def test_got10k_test_split_keeps_the_listing_when_it_is_not_numbered_one_by_one(tmp_path: Path) -> None:
    split = tmp_path / "test"
    for name, files in (("GOT-10k_Test_000001", ("00000001.jpg", "00000002.jpg", "00000003.jpg")),
                        ("GOT-10k_Test_000002", ("first.jpg", "second.jpg"))):
        (split / name).mkdir(parents=True)
        (split / name / "groundtruth.txt").write_text("1,2,3,4\n")
        for f in files:
            (split / name / f).write_bytes(b"")
    (split / "list.txt").write_text("GOT-10k_Test_000001\nGOT-10k_Test_000002\n")
    a, b = get_sequences("got10k", tmp_path, split="test")
    assert isinstance(a.frames, NumberedFrames)
    assert list(a.frames) == [split / a.name / f"0000000{i}.jpg" for i in (1, 2, 3)]
    assert list(b.frames) == [split / b.name / "first.jpg", split / b.name / "second.jpg"]
    (split / b.name / "first.jpg").rename(split / b.name / "00000001.jpg")   # numbered with a hole: 1, then 3
    (split / b.name / "second.jpg").rename(split / b.name / "00000003.jpg")   # (its submission shifted a row)
    with pytest.raises(DatasetError, match=r"00000002\.jpg"):
        get_sequences("got10k", tmp_path, split="test")


def test_frames_option_cuts_a_rule(tmp_path: Path) -> None:
    seq_dir = _lasot_sequence(tmp_path, "bird-2", 30)
    cut = _truncate(get_sequences("lasot", tmp_path, split="all")[0], 7)
    assert len(cut) == 7 and cut.frames == [seq_dir / "img" / f"{i:08d}.jpg" for i in range(1, 8)]


def test_counting_a_test_split_folder_stats_no_frame(tmp_path: Path) -> None:
    """TrackingNet's test split is counted from its frame folders: from the listing, not one stat per frame (each a
    round trip on a network disk), with the same frames: hidden files, folders and other suffixes are not frames, a
    link whose target is gone is."""
    folder = tmp_path / "TEST" / "frames" / "seqA"
    folder.mkdir(parents=True)
    (tmp_path / "TEST" / "anno").mkdir()
    (tmp_path / "TEST" / "anno" / "seqA.txt").write_text("1,2,3,4\n")
    for i in range(5):
        (folder / f"{i}.jpg").write_bytes(b"")
    (folder / "5.jpg").symlink_to(tmp_path / "gone.jpg")
    (folder / "._6.jpg").write_bytes(b"")
    (folder / "7.jpg").mkdir()
    (folder / "notes.txt").write_text("")
    stats: list[str] = []
    real_stat = os.stat

    def stat(path: str | os.PathLike, *args: object, **kwargs: object) -> os.stat_result:
        stats.append(str(path))
        return real_stat(path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "stat", stat)
        seq = get_sequences("trackingnet", tmp_path)[0]
    assert len(seq) == 6 and list(seq.frames) == [folder / f"{i}.jpg" for i in range(6)]
    assert [p for p in stats if Path(p).parent == folder and Path(p).name != "5.jpg"] == []
