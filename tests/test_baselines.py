"""Classic OpenCV baselines behind dt eval's tracker interface: tracking, OpenCV quirks, names."""

from __future__ import annotations

import numpy as np
import pytest

from droptrack.errors import InputError
from droptrack.eval.baselines import BASELINES, create
from droptrack.geometry import box_iou


def _clip(n: int = 16, step: int = 3) -> tuple[list[np.ndarray], np.ndarray]:
    """A 160x120 clip: a 30x24 random-texture patch moving right and down over a smooth gradient."""
    rng = np.random.default_rng(7)
    patch = rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:120, 0:160]
    bg = np.stack([xx * 1.2, yy * 1.5, (xx + yy) * 0.6], -1).astype(np.uint8)
    frames, boxes = [], []
    for i in range(n):
        x, y = 20 + step * i, 30 + i
        f = bg.copy()
        f[y:y + 24, x:x + 30] = patch
        frames.append(f)
        boxes.append([x, y, 30, 24])
    return frames, np.asarray(boxes, dtype=np.float64)


def test_csrt_follows_a_moving_textured_patch():
    frames, gt = _clip()
    tracker = create("csrt")
    tracker.initialize(frames[0], gt[0])
    out = [tracker.track(f) for f in frames[1:]]
    boxes = np.asarray([b for b, _ in out])
    iou = box_iou(boxes, gt[1:])
    assert iou.min() > 0.6 and iou.mean() > 0.75, iou
    assert all(score == 1.0 for _, score in out) and tracker.failed_frames == 0


def test_init_failure_reports_the_init_box_flagged():
    frames, _ = _clip(3)
    tracker = create("mil")          # a 3x3 box is under MIL's minimum side (OpenCV's init would never return)
    tracker.initialize(frames[0], [50.4, 40.6, 3.0, 3.0])
    assert tracker.init_failed
    assert tracker.track(frames[1]) == ([50.4, 40.6, 3.0, 3.0], 0.0)
    assert tracker.failed_frames == 1


def test_update_failure_reports_the_last_box_flagged():
    frames, gt = _clip(4)
    tracker = create("kcf")
    tracker.initialize(frames[0], gt[0])
    box, score = tracker.track(frames[1])
    assert score == 1.0
    bad = np.zeros((10, 12, 3), np.uint8)     # smaller than the search window: OpenCV raises inside update
    assert tracker.track(bad) == (box, 0.0)
    assert tracker.failed_frames == 1


def test_unknown_name_lists_the_choices():
    with pytest.raises(InputError) as exc:
        create("siamfc")
    msg = str(exc.value)
    assert "siamfc" in msg and all(name in msg for name in BASELINES)
    assert "\n" not in msg


def _sequence(tmp_path, n: int = 8):
    """The clip as a GOT-10k-layout Sequence on disk."""
    import cv2

    from droptrack.data.sequence import Sequence

    frames, gt = _clip(n)
    folder = tmp_path / "clip"
    folder.mkdir()
    paths = []
    for i, f in enumerate(frames, 1):
        paths.append(folder / f"{i:08d}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return Sequence("clip", "synth", paths, None, gt)


def test_dt_eval_tracker_writes_official_files_and_resumes(tmp_path):
    from droptrack.eval.results import read_result
    from droptrack.eval.run import evaluate

    seq = _sequence(tmp_path)
    first = evaluate(None, [seq], tmp_path / "out", threads=1, progress=False, tracker="CSRT")
    assert first.output_dir.name == "csrt" and first.tracked == ["clip"]
    rows = (first.output_dir / "clip.txt").read_text().splitlines()
    assert len(rows) == 8 and rows[0] == "20\t30\t30\t24"
    assert first.report.trackers[0].result.auc > 0.6
    again = evaluate(None, [seq], tmp_path / "out", threads=1, progress=False, tracker="csrt")
    assert again.resumed == ["clip"] and not again.tracked
    np.testing.assert_array_equal(read_result(first.output_dir / "clip.txt"), again.boxes["clip"])
    with pytest.raises(InputError, match="another run"):    # a different tracker's results are not mixed in
        evaluate(None, [seq], tmp_path / "out", threads=1, progress=False, tracker="kcf", name="csrt")


def test_dt_eval_refuses_tracker_and_checkpoint_together(tmp_path):
    from droptrack.eval.run import evaluate

    with pytest.raises(InputError, match="pass one of them"):
        evaluate("model.pt", [_sequence(tmp_path, 2)], tmp_path / "out", tracker="csrt")


@pytest.mark.parametrize("box, words", [([np.nan, 30, 30, 24], "finite numbers"), ([20, 30, 0, 0], "zero or negative"),
                                        ([500, 30, 30, 24], "outside")])
def test_an_unusable_init_box_is_refused_as_by_the_model(box, words):
    frames, _ = _clip(2)      # it was a NaN traceback, or a 1x1 box "tracked" without a word
    for name in BASELINES:
        with pytest.raises(InputError, match=words):
            create(name).initialize(frames[0], box)


@pytest.mark.parametrize("first, words", [([np.nan] * 4, "is not finite"), ([20, 30, 0, 24], "has zero or negative")])
def test_dt_eval_refuses_an_unusable_first_box_before_any_work(tmp_path, first, words):
    from droptrack.errors import DatasetError
    from droptrack.eval.run import evaluate

    (tmp_path / "b").mkdir()
    good, bad = _sequence(tmp_path, 3), _sequence(tmp_path / "b", 3)
    bad.name, bad.boxes = "bad", np.vstack([first, bad.boxes[1:]])
    with pytest.raises(DatasetError, match=f"bad: the first ground-truth box \\(row 0\\) {words}") as exc:
        evaluate(None, [good, bad], tmp_path / "out", threads=1, progress=False, tracker="csrt")
    assert "\n" not in str(exc.value) and not (tmp_path / "out").exists()   # the good one was not tracked first
