"""`dt eval --dataset video|folder` on one's own footage labelled with the first frame's box only (a test split, as
GOT-10k's): every frame is tracked. Both readers cut the sequence to its GT rows, so one frame was tracked."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from helpers import cli, drifting_clip

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py

FRAMES = 6


def tracked_rows(tmp_path, dataset: str, root, ckpt) -> list[list[str]]:
    """`dt eval --dataset DATASET --root ROOT` of the tiny model: the rows of walk.txt it writes, split."""
    r = cli("eval", "--dataset", dataset, "--root", root, "-m", ckpt, "--device", "cpu", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    return [row.split() for row in (tmp_path / "out" / "tiny" / "walk.txt").read_text().splitlines()]


def test_a_video_with_only_its_init_box_is_tracked_to_its_end(tmp_path, tiny_ckpt):
    root = tmp_path / "clips"
    root.mkdir()
    w = cv2.VideoWriter(str(root / "walk.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 72))
    rng = np.random.default_rng(0)
    for _ in range(FRAMES):
        w.write(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))
    w.release()
    (root / "walk.txt").write_text("30,22,26,20\n")
    rows = tracked_rows(tmp_path, "video", root, tiny_ckpt)
    assert len(rows) == FRAMES and rows[0] == ["30", "22", "26", "20"]


def test_a_frame_folder_with_only_its_init_box_is_tracked_to_its_end(tmp_path, tiny_ckpt):
    seq = tmp_path / "mine" / "walk"
    seq.mkdir(parents=True)
    drifting_clip(seq, FRAMES)
    (seq / "groundtruth.txt").write_text("30,22,26,20\n")
    rows = tracked_rows(tmp_path, "folder", seq.parent, tiny_ckpt)
    assert len(rows) == FRAMES and rows[0] == ["30", "22", "26", "20"]


def test_the_summary_sends_no_own_footage_to_a_benchmark_server(tmp_path, tiny_ckpt):
    seq = tmp_path / "mine" / "walk"
    seq.mkdir(parents=True)
    drifting_clip(seq, 3)
    (seq / "groundtruth.txt").write_text("30,22,26,20\n")
    r = cli("eval", "--dataset", "folder", "--root", seq.parent, "-m", tiny_ckpt, "--device", "cpu",
            "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert "server" not in r.output
    assert "nothing to score" in r.output


@pytest.mark.parametrize("dataset", ["folder", "video"])
def test_dt_analyze_of_own_footage_with_its_first_box_only_says_to_add_boxes(tmp_path, tiny_ckpt, dataset):
    """dt analyze of those results sent one's own clip to 'the benchmark's server with the submission dt eval wrote,
    or --split val or train', none of which there is. It now says to add a box per frame, and that works."""
    root = tmp_path / "mine"
    if dataset == "folder":
        (root / "walk").mkdir(parents=True)
        drifting_clip(root / "walk", 3)
        boxes = root / "walk" / "groundtruth.txt"
    else:
        root.mkdir()
        w = cv2.VideoWriter(str(root / "walk.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 72))
        for _ in range(3):
            w.write(np.random.default_rng(0).integers(0, 255, (72, 96, 3), dtype=np.uint8))
        w.release()
        boxes = root / "walk.txt"
    boxes.write_text("30,22,26,20\n")
    r = cli("eval", "--dataset", dataset, "--root", root, "-m", tiny_ckpt, "--device", "cpu", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    analyze = ("analyze", tmp_path / "out" / "tiny", "--dataset", dataset, "--root", root, "-o", tmp_path / "an")
    r = cli(*analyze)
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert "server" not in r.output and "--split" not in r.output, r.output
    assert "add a box per frame to its box file" in r.output, r.output
    boxes.write_text("30,22,26,20\n" * 3)
    r = cli(*analyze)
    assert r.exit_code == 0, r.output


def test_dt_eval_names_a_one_frame_sequence_it_leaves_out_as_dt_analyze_does(tmp_path, tiny_ckpt):
    """A folder of one's own footage where one sequence has a single frame: dt eval printed '1/1 sequences' and no
    line, while dt analyze of the same results left it out with a line (and called it a test split)."""
    root = tmp_path / "mine"
    for name, n in (("walk", 4), ("one", 1)):
        (root / name).mkdir(parents=True)
        drifting_clip(root / name, n)
        (root / name / "groundtruth.txt").write_text("30,22,26,20\n" * n)
    r = cli("eval", "--dataset", "folder", "--root", root, "-m", tiny_ckpt, "--device", "cpu", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "1/2 sequences" in said, said
    assert "one left out of every tracker's averages: one has no ground truth after the first frame (it has one " \
           "frame); it cannot be scored here" in said, said
    a = cli("analyze", tmp_path / "out" / "tiny", "--dataset", "folder", "--root", root, "-o", tmp_path / "an")
    assert a.exit_code == 0 and "(it has one frame)" in " ".join(a.output.split()), a.output
