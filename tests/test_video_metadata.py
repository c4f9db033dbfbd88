"""What OpenCV reports about a video, checked before it is used: a header frame count that is NaN, negative or absurd
is unknown, and the display rotation is applied explicitly (or, where the backend cannot, a warning says the frames
are sideways). Real files written here; a capture wrapper stands in for builds and backends that behave otherwise."""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.runtime.sources import open_source
from droptrack.videofiles import RotationWarning, plausible_frame_count
from test_media_footage import mjpg_avi, rotated_mp4

REAL_CAPTURE = cv2.VideoCapture


@pytest.mark.parametrize("reported, count", [
    (math.nan, None), (math.inf, None), (-math.inf, None), (-1.0, None), (-5e9, None), (0.0, None), (0.5, None),
    (1e9 + 1, None), (4294967295.0, None), (None, None), (1.0, 1), (12.0, 12), (1e9, 1_000_000_000),
])
def test_plausible_frame_count(reported, count):
    assert plausible_frame_count(reported) == count


class Capture:
    """A real cv2.VideoCapture with another build's or backend's orientation handling: `auto_default` is what
    CAP_PROP_ORIENTATION_AUTO starts as; `supported` False makes setting it fail (and leaves the frames sideways);
    `count` replaces the header's frame count."""

    auto_default, supported, count = 1.0, True, None

    def __init__(self, *args):
        self.real = REAL_CAPTURE(*args)
        self.real.set(cv2.CAP_PROP_ORIENTATION_AUTO, self.auto_default)

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_ORIENTATION_AUTO and not self.supported:
            return False
        return self.real.set(prop, value)

    def get(self, prop):
        if prop == cv2.CAP_PROP_FRAME_COUNT and self.count is not None:
            return self.count
        return self.real.get(prop)

    def __getattr__(self, name):
        return getattr(self.real, name)


def capture(monkeypatch, **kw) -> None:
    monkeypatch.setattr(cv2, "VideoCapture", type("Patched", (Capture,), kw))


def first_frame(path) -> np.ndarray:
    with open_source(path) as src:
        return next(iter(src)).image


def test_rotation_is_applied_where_the_build_leaves_it_off_by_default(tmp_path, monkeypatch):
    """Readers relied on OpenCV's default (CAP_PROP_ORIENTATION_AUTO on in recent FFmpeg builds): where a build
    starts with it off, a portrait phone video came out sideways (64 wide, 48 high). It is now set explicitly."""
    clip = rotated_mp4(tmp_path / "portrait.mp4")
    capture(monkeypatch, auto_default=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # upright: nothing to warn about
        assert first_frame(clip).shape == (64, 48, 3)
        (seq,) = get_sequences("video", clip)
        assert seq.frame(0).shape == (64, 48, 3)


def test_a_backend_that_cannot_rotate_warns_once_naming_the_rotation(tmp_path, monkeypatch):
    """A backend without the property (GStreamer on Jetson, older OpenCV) gave sideways frames silently; now one
    RotationWarning per opened video names its rotation and the frames are the stored (sideways) picture."""
    clip = rotated_mp4(tmp_path / "portrait.mp4")
    capture(monkeypatch, auto_default=0.0, supported=False)
    with pytest.warns(RotationWarning) as caught:
        image = first_frame(clip)
    assert image.shape == (48, 64, 3) and len(caught) == 1
    assert str(caught[0].message).startswith(f"video '{clip}' is stored rotated by 90 degrees (its display matrix) "
                                             "and OpenCV's FFMPEG backend does not turn it upright")


def test_an_unrotated_video_on_such_a_backend_needs_no_warning(tmp_path, monkeypatch):
    clip = mjpg_avi(tmp_path / "flat.avi", frames=3)
    capture(monkeypatch, auto_default=0.0, supported=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert first_frame(clip).shape == (48, 64, 3)


@pytest.mark.parametrize("count", [math.nan, -3.0])
def test_dataset_reader_treats_a_nan_or_negative_frame_count_as_none(tmp_path, monkeypatch, count):
    """folder.py did int(CAP_PROP_FRAME_COUNT): NaN raised ValueError (a traceback), a negative count read as -3;
    without a count the frames are counted."""
    clip = mjpg_avi(tmp_path / "clip.avi", frames=3)
    capture(monkeypatch, count=count)
    (seq,) = get_sequences("video", clip)
    assert len(seq) == 3


def test_an_absurd_header_frame_count_is_unknown(tmp_path):
    """A real AVI whose header says 4294967295 frames: the dataset reader allocated a box row per frame (137 GB)
    without a ground-truth file; dt run's source reported 2000000000 frames (its progress end) for another."""
    clip = mjpg_avi(tmp_path / "clip.avi", frames=3, count=0xFFFFFFFF)
    (seq,) = get_sequences("video", clip)   # counted instead: 3 rows
    assert len(seq) == 3
    clip = mjpg_avi(tmp_path / "two.avi", frames=3, count=2_000_000_000)
    with open_source(clip) as src:
        assert src.num_frames is None and len(list(src)) == 3


def test_dt_run_prints_the_rotation_warning_as_one_line(tiny_ckpt, tmp_path, monkeypatch):
    """dt run over a rotated video on a backend that cannot rotate: one 'warning: ...' line (not Python's
    file:line format with a source line), the run goes on in the stored picture."""
    from helpers import cli

    clip = rotated_mp4(tmp_path / "portrait.mp4")
    capture(monkeypatch, auto_default=0.0, supported=False)
    r = cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", "30,10,20,20", "-o", tmp_path / "b.txt")
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if "rotated" in ln]
    assert lines == [f"warning: video '{clip}' is stored rotated by 90 degrees (its display matrix) and OpenCV's "
                     "FFMPEG backend does not turn it upright: frames, --init and the boxes are in the stored picture; "
                     "rotate the file with `ffmpeg -i IN -c:v libx264 OUT.mp4` (ffmpeg applies the rotation)"], r.output
    assert (tmp_path / "b.txt").read_text().count("\n") == 4
