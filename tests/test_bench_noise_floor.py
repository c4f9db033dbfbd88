"""dt bench --noise-floor: the reference tracked again with state jitter, against its own boxes. The jitter stream is
checked against numpy's generator by hand; the recorded divergence against IoUs computed here from the two result
folders' files; bad values are one-line errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from droptrack.eval.noise_floor import JitteredTracker, folder_name
from test_bench import assets, dt

__all__ = ["assets"]   # the fixture, used by name


class Recorder:
    """A stand-in host tracker: its state is a list, track() returns it and records the state it started from."""

    def __init__(self):
        self.states, self.seen, self.ext = [], [], "ext"

    def initialize(self, frame, box):
        self.states = [list(map(float, box))]

    def track(self, frame):
        self.seen.append(list(self.states[0]))
        return list(self.states[0]), 0.9


def test_jitter_moves_only_the_next_crops_state_by_the_seeded_stream():
    t = JitteredTracker(Recorder(), px=0.5, seed=3)
    assert t.ext == "ext"                                       # other attributes are the tracker's
    for _ in range(2):                                          # a second sequence starts the same stream again
        t.initialize(None, [10, 20, 30, 40])
        boxes = [t.track(None)[0] for _ in range(3)]
        noise = np.random.default_rng(3).standard_normal(12).reshape(3, 4) * 0.5
        state = np.array([10.0, 20, 30, 40])
        for k in range(3):
            assert boxes[k] == pytest.approx(state)             # the box returned is the state before the jitter
            state = state + noise[k]
        assert t.tracker.states[0] == pytest.approx(state)


def test_a_device_tracker_is_refused():
    class Device(Recorder):
        states_t = None

    with pytest.raises(Exception, match="--device cpu"):
        JitteredTracker(Device(), 0.01)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Plain IoU of x,y,w,h rows."""
    x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


def _boxes(path) -> np.ndarray:
    return np.array([[float(v) for v in re.split(r"[,\t ]+", line.strip())]
                     for line in path.read_text().splitlines() if line.strip()])


def test_bench_records_the_floor_from_the_two_result_folders(assets, tmp_path):
    out = tmp_path / "b"
    res = dt("bench", assets["ckpt"], "--data", assets["synth"], "--output", out, "--noise-floor", "8")
    assert res.exit_code in (0, 1), res.output
    assert "noise floor: " in res.output and "Not gated" in res.output
    js = json.loads((out / "bench.json").read_text())
    ref = js["references"][0]
    floor = ref["noise_floor"]
    assert floor["px"] == 8.0 and floor["sequences"] == 2
    noisy = out / "results" / folder_name(ref["name"], 8.0)
    assert floor["result_dir"] == str(noisy)
    # the reference is the row itself here: its folder is the row's
    plain = out / "results" / js["rows"][0]["name"] if ref["result_dir"] is None else ref["result_dir"]
    hits, frames, on_hits, on_frames = 0, 0, 0, 0
    for f in sorted(noisy.glob("*.txt")):
        if f.name.endswith("_time.txt") or "time" in f.stem:
            continue
        a, b = np.trunc(_boxes(f)[1:]), np.trunc(_boxes(type(noisy)(plain) / f.name)[1:])
        gt = _boxes(assets["synth"] / f.stem / "groundtruth.txt")[1:]
        iou = _iou(a, b)
        on = _iou(b, gt) >= 0.5                                 # the reference on the ground truth
        hits, frames = hits + int((iou < 0.5).sum()), frames + len(iou)
        on_hits, on_frames = on_hits + int((iou[on] < 0.5).sum()), on_frames + int(on.sum())
    assert frames == floor["frames"] == 18
    assert floor["divergence"] == pytest.approx(hits / frames)
    assert floor["frames_on_target"] == on_frames   # 0 for this random model: see the test below
    assert floor["divergence_on_target"] == (pytest.approx(on_hits / on_frames) if on_frames else None)
    assert hits > 0                                             # 8 px a frame does move this random model's track
    assert "noise floor" in (out / "bench.md").read_text()


@pytest.mark.parametrize("args, message", [
    (["--noise-floor", "0"], "--noise-floor 0.0 must be in (0, 10]"),
    (["--noise-floor", "11"], "--noise-floor 11.0 must be in (0, 10]"),
    (["--noise-floor", "0.01", "--device", "cuda"], "--device cpu"),
])
def test_bad_noise_floor_is_one_line_exit_2(assets, tmp_path, args, message):
    res = dt("bench", assets["ckpt"], "--data", assets["synth"], "--output", tmp_path / "b", *args)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.output
    assert not (tmp_path / "b").exists()


def test_baselines_only_have_no_reference_to_measure(assets, tmp_path):
    res = dt("bench", "--tracker", "kcf", "--data", assets["synth"], "--output", tmp_path / "b", "--noise-floor", "1")
    assert res.exit_code == 2 and "--noise-floor measures a model's PyTorch reference" in res.output


def test_on_target_share_counts_only_frames_the_reference_tracks():
    """Hand-made boxes: the reference is on the ground truth in frames 1-2 and lost in 3-4; the jittered pass
    agrees in frame 1 and parts in frames 2, 3 and 4."""
    from types import SimpleNamespace

    from droptrack.eval.noise_floor import compare

    gt, lost = [10, 10, 20, 20], [100, 100, 20, 20]
    seq = SimpleNamespace(name="a", boxes=np.array([gt] * 5, float))
    ref = {"a": np.array([gt, gt, gt, lost, lost], float)}
    noisy = {"a": np.array([gt, gt, [50, 50, 20, 20], [200, 200, 20, 20], [200, 200, 20, 20]], float)}
    f = compare(0.01, noisy, ref, [seq], truth=True)
    assert (f.frames, f.divergence, f.sequences_diverged) == (4, 0.75, 1)
    assert (f.frames_on_target, f.divergence_on_target) == (2, 0.5)
    plain = compare(0.01, noisy, ref, [seq])
    assert plain.divergence == 0.75 and plain.divergence_on_target is None and plain.frames_on_target == 0


def test_a_large_jitter_never_empties_the_box():
    t = JitteredTracker(Recorder(), px=10.0)
    t.initialize(None, [50, 50, 1, 1])
    for _ in range(20):
        t.track(None)
        assert t.tracker.states[0][2] >= 1.0 and t.tracker.states[0][3] >= 1.0
