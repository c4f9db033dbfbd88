"""Every box value the Python API returns is a float: the host Tracker's official 10-px clip gave Python ints for a
clipped side (0, W - 10, ...) where the DeviceTracker gave floats; dt run's text box files (int-truncated) are as
before."""

from __future__ import annotations

import pytest

from droptrack.engine.torch_backend import TorchBackend
from droptrack.geometry import clip_box
from droptrack.runtime.backends import tracker_ext
from droptrack.runtime.device_tracker import DeviceTracker
from droptrack.runtime.sinks import format_box_line
from droptrack.runtime.tracker import Tracker

pytestmark = pytest.mark.usefixtures("one_thread")
CORNERS = [[0.0, 0.0, 30.0, 30.0], [150.0, 118.0, 26.0, 26.0], [0.0, 110.0, 40.0, 34.0]]   # 176x144 frames


def all_floats(box) -> bool:
    return all(type(v) is float for v in box)


@pytest.mark.parametrize("box, H, W, want", [
    ([-5, 5, 30, 30], 80, 100, [0.0, 5.0, 25.0, 30.0]),
    ([95.5, 75.5, 20.0, 20.0], 80, 100, [90.0, 70.0, 10.0, 10.0]),
    ([20.25, 20.5, 2.0, 3.0], 80, 100, [20.25, 20.5, 10.0, 10.0]),
    ([-3.5, -2.0, 4.0, 5.0], 6, 8, [0.0, 0.0, 8.0, 6.0]),             # a frame under the margin: all of it
])
def test_clip_box_returns_floats(box, H, W, want):
    out = clip_box(box, H, W)
    assert out == want and all_floats(out)
    assert format_box_line(out) == "\t".join(str(int(v)) for v in want)   # the official text file: unchanged


@pytest.mark.parametrize("kind", ["host", "device"])
@pytest.mark.parametrize("ext", [{}, {"SIZE_LR": 0.5}])
def test_every_box_value_of_both_trackers_is_a_float(tiny_ckpt, frames, kind, ext):
    backend = TorchBackend.from_checkpoint(tiny_ckpt)
    settings = tracker_ext(backend, ext)   # {}: the official procedure; SIZE_LR: the extensions' update
    tracker = Tracker(backend, settings) if kind == "host" else DeviceTracker(backend, device="cpu", ext=settings)
    tracker.initialize_many(frames[0], CORNERS)
    boxes = [r.box for f in frames[1:8] for r in tracker.track_many(f)]
    box, score = tracker.track(frames[8])   # the first target's
    assert all(all_floats(b) for b in [*boxes, box]) and type(score) is float, boxes
    H, W = frames[0].shape[:2]
    assert any(b[0] == 0 or b[1] == 0 or b[0] == W - 10 or b[1] == H - 10 for b in boxes)   # a clip was applied


def test_serve_target_boxes_are_floats_in_its_api():
    """dt serve's /targets and page state showed a drawn box as [60, 20, 50, 60] and a clipped one as [0, ...] next
    to floats; --jsonl records were floats already (`frame_record` rounds float(v))."""
    from droptrack.serve.options import Target

    d = Target(3, [60, 20, 50.5, 60], 0.5, False, 0).to_dict()
    assert d["box"] == [60.0, 20.0, 50.5, 60.0] and all_floats(d["box"])
