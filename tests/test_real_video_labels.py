"""benchmarks/real_video_labels.py: CSRT tracks on an unlabelled video follow a moving object, a still one is left
out, and the output is a training set the reader takes (checked against the video's own drawn positions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from droptrack.geometry import box_iou
from helpers import benchmark_module

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "real_video_labels.py"


def _video(path: Path, frames: int = 44) -> list[tuple]:
    """A 240x160 clip: a still textured square at (170, 100) and a moving one; returns the moving one's boxes."""
    rng = np.random.default_rng(3)
    moving_tex = cv2.resize(rng.integers(0, 255, (5, 5, 3), dtype=np.uint8), (30, 30), interpolation=cv2.INTER_LINEAR)
    still_tex = cv2.resize(rng.integers(0, 255, (5, 5, 3), dtype=np.uint8), (26, 26), interpolation=cv2.INTER_LINEAR)
    yy, xx = np.mgrid[0:160, 0:240]
    background = np.dstack([90 + 0.2 * xx, 120 + 0.1 * yy, 110 + 0 * xx]).astype(np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (240, 160))
    truth = []
    for t in range(frames):
        f = background.copy()
        f[100:126, 170:196] = still_tex
        x, y = 20 + 2 * t, 30 + t // 2
        f[y:y + 30, x:x + 30] = moving_tex
        truth.append((x, y, 30, 30))
        writer.write(f)
    writer.release()
    return truth


def _inside(box, square) -> float:
    """The share of `box` that lies in `square` (both x, y, w, h)."""
    w = max(0.0, min(box[0] + box[2], square[0] + square[2]) - max(box[0], square[0]))
    h = max(0.0, min(box[1] + box[3], square[1] + square[3]) - max(box[1], square[1]))
    return w * h / (box[2] * box[3])


def test_tracks_follow_the_moving_object_and_skip_the_still_one(tmp_path):
    truth = _video(tmp_path / "clip.avi")
    out = tmp_path / "labels"
    run = subprocess.run([sys.executable, str(SCRIPT), str(out), str(tmp_path / "clip.avi"), "--every", "40"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    names = (out / "list.txt").read_text().split()
    assert names, run.stdout
    sheet = cv2.imread(str(out / "tracks.png"))   # the sheet to check the labels by eye: one row per track shown
    assert sheet is not None and sheet.shape[1] == 3 * 320 and sheet.shape[0] >= 213 * min(len(names), 8)
    for name in names:
        boxes = np.loadtxt(out / name / "groundtruth.txt", delimiter=",", ndmin=2)
        assert len(boxes) >= 20 and sorted(p.name for p in (out / name).glob("*.jpg"))[0] == "00000001.jpg"
        first = int(name.rsplit("_", 2)[1])
        inside = [_inside(b, truth[first + i]) for i, b in enumerate(boxes)]
        assert min(inside) >= 0.8, (name, min(inside))   # on the moving square (or a part of it) in every frame
        assert len(list((out / name).glob("*.jpg"))) == len(boxes)
        assert (out / name / "absence.label").read_text().split() == ["0"] * len(boxes)
    from droptrack.train.data import load_datasets

    (seqs,) = load_datasets(["SYNTH"], {"SYNTH": str(out)})   # what dt train --data reads
    assert sorted(s.name for s in seqs) == sorted(names)
    assert all(np.allclose(s.boxes, np.loadtxt(out / s.name / "groundtruth.txt", delimiter=",", ndmin=2))
               for s in seqs)


def test_a_track_stops_where_its_backward_check_fails():
    """At frame 20 the square jumps to the far side and another object appears where the track is: CSRT goes on
    with that one (40 frames when unchecked); the checks end the track before the switch."""
    mod = benchmark_module("real_video_labels")
    rng = np.random.default_rng(5)
    tex, other = (cv2.resize(rng.integers(0, 255, (5, 5, 3), dtype=np.uint8), (30, 30), interpolation=cv2.INTER_LINEAR)
                  for _ in range(2))
    frames = []
    for t in range(40):
        f = np.full((160, 240, 3), 100, np.uint8)
        x = 20 + t if t < 20 else 190
        f[60:90, x:x + 30] = tex
        if t >= 20:
            f[60:90, 40:70] = other
        frames.append(f)
    track = mod.verified_track(frames, 0, (20.0, 60.0, 30.0, 30.0), 39)
    assert 12 <= len(track) <= 20
    assert all(box_iou(b, (20 + i, 60, 30, 30))[0] >= 0.6 for i, b in enumerate(track))


@pytest.mark.parametrize("track, moves", [([(0, 0, 10, 10)] * 30, False),
                                          ([(i * 0.5, 0, 10, 10) for i in range(30)], True)])
def test_motion_is_in_units_of_the_box_size(track, moves):
    assert (benchmark_module("real_video_labels").motion(track) >= 0.1) is moves


def test_bad_input_is_one_line_before_any_work(tmp_path):
    _video(tmp_path / "clip.avi")
    (tmp_path / "notes.txt").write_text("not a video")
    for args, words in ((["clip.avi", "nope.mp4"], "nope.mp4: no such video"),
                        (["clip.avi", "notes.txt"], "notes.txt: no frame can be read")):
        run = subprocess.run([sys.executable, str(SCRIPT), "out", *args], capture_output=True, text=True,
                             cwd=tmp_path, timeout=120)
        assert run.returncode == 2 and words in run.stderr and "Traceback" not in run.stderr, run.stderr
        assert not (tmp_path / "out").exists()   # nothing written
    (tmp_path / "out").mkdir()
    run = subprocess.run([sys.executable, str(SCRIPT), "out", "clip.avi"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and "out exists" in run.stderr
