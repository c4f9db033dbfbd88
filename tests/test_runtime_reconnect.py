"""Live sources that drop come back (with backoff, within a budget), tracking continues from the last state, the
gap is marked in the JSONL; video files still end; a source that never connects fails within its timeout."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.data.media import bundled_video
from droptrack.errors import InputError, SourceError
from droptrack.runtime.loop import track_frames
from droptrack.runtime.reconnect import ReconnectPolicy, open_with_retry
from droptrack.runtime.sinks import JsonlSink
from droptrack.runtime.sources import CaptureSource, open_source
from droptrack.runtime.tracker import load_tracker
from helpers import mjpeg_camera

FAST = dict(backoff_s=0.01, max_backoff_s=0.04)


class ScriptedCapture:
    """cv2.VideoCapture stand-in: delivers its BGR frames, then read() fails (the camera dropped)."""

    def __init__(self, frames):
        self.frames, self.i, self.released = None if frames is None else list(frames), 0, False

    def isOpened(self):
        return self.frames is not None

    def read(self):
        if self.frames is None or self.i >= len(self.frames):
            return False, None
        self.i += 1
        return True, self.frames[self.i - 1]

    def get(self, prop):
        return 0.0

    def release(self):
        self.released = True


class ScriptedOpener:
    """Each call opens the next capture of the script; None entries are failed opens (camera still gone)."""

    def __init__(self, script):
        self.script, self.calls, self.times = list(script), 0, []

    def __call__(self):
        self.calls += 1
        self.times.append(time.monotonic())
        frames = self.script.pop(0) if self.script else None
        return ScriptedCapture(frames)


def bgr_frames(n: int, start: int = 0) -> list[np.ndarray]:
    return [np.full((6, 8, 3), (start + k) % 256, np.uint8) for k in range(n)]


def live_source(script, policy: ReconnectPolicy) -> tuple[CaptureSource, ScriptedOpener]:
    opener = ScriptedOpener(script)
    return CaptureSource(opener(), "camera 7", live=True, opener=opener, policy=policy), opener


def test_drop_reopens_with_backoff_and_marks_the_gap():
    policy = ReconnectPolicy(attempts=5, **FAST)
    src, opener = live_source([bgr_frames(4), None, None, bgr_frames(3, 4)], policy)
    got = list_until_error(src)
    assert [f.index for f in got] == list(range(7))
    assert [int(f.image[0, 0, 0]) for f in got] == list(range(7))      # no frame lost or repeated
    assert [f.gap is not None for f in got] == [False] * 4 + [True] + [False] * 2
    assert got[4].gap.attempts == 3                                      # two failed opens, then success
    waits = np.diff(opener.times[1:])                                    # backoff doubles: 0.02, 0.04 s
    assert waits[0] >= 0.02 and waits[1] >= 0.04
    assert got[4].gap.gap_s >= 0.01 + 0.02 + 0.04


def list_until_error(src) -> list:
    """Frames until the source raises (the script ran out: the camera stays gone)."""
    frames = []
    with pytest.raises(SourceError, match=r"camera 7 could not be \(re\)opened within 5 attempts"):
        for f in src:
            frames.append(f)
    return frames


def test_attempts_and_timeout_bound_an_outage():
    src, opener = live_source([bgr_frames(2)], ReconnectPolicy(attempts=3, **FAST))
    with pytest.raises(SourceError, match=r"within 3 attempts \(3 attempts"):
        list(src)
    assert opener.calls == 1 + 3
    src, opener = live_source([bgr_frames(2)], ReconnectPolicy(timeout_s=0.3, **FAST))
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=r"within 0.3 s"):
        list(src)
    assert 0.3 <= time.monotonic() - t0 < 3.0 and opener.calls > 4


def test_opened_but_silent_capture_counts_toward_the_same_outage():
    # every reopen "succeeds" but delivers nothing: the attempts add up instead of restarting
    src, opener = live_source([bgr_frames(2)] + [[]] * 10, ReconnectPolicy(attempts=4, **FAST))
    with pytest.raises(SourceError, match="within 4 attempts"):
        list(src)
    assert opener.calls == 1 + 4


def test_without_a_policy_a_drop_still_ends_with_the_old_error():
    src, opener = live_source([bgr_frames(3), bgr_frames(3)], ReconnectPolicy())
    with pytest.raises(SourceError, match="stopped delivering frames after 3 frames.*--reconnect"):
        list(src)
    assert opener.calls == 1


def test_open_with_retry_fails_fast_when_disabled_and_checks_the_policy():
    with pytest.raises(SourceError, match="1 attempt,"):
        open_with_retry(ScriptedOpener([]), ReconnectPolicy(), "camera 7", "hint", first_wait=False)
    with pytest.raises(InputError, match="--reconnect -1"):
        ReconnectPolicy(attempts=-1)
    with pytest.raises(InputError, match="--reconnect-timeout"):
        ReconnectPolicy(timeout_s=0)


def test_camera_that_never_connects_fails_within_timeout():
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=r"camera 57 could not be \(re\)opened within 0.4 s.*v4l2-ctl"):
        open_source("camera57", reconnect=ReconnectPolicy(timeout_s=0.4, **FAST))
    assert time.monotonic() - t0 < 5.0
    res = CliRunner().invoke(app, ["run", "camera57", "--init", "1,1,4,4", "--reconnect-timeout", "0.3",
                                   "--device", "cpu"])
    assert res.exit_code == 2
    assert "camera 57 could not be (re)opened within 0.3 s" in res.output and "Traceback" not in res.output


def test_video_file_still_ends_with_reconnect_enabled():
    with open_source(bundled_video("carphone_pristine.mp4"), reconnect=ReconnectPolicy(attempts=3)) as src:
        n = sum(1 for _ in src)
    assert n == src.num_frames > 0


def test_tracking_continues_across_a_drop_and_jsonl_marks_it(tmp_path):
    torch.set_num_threads(1)
    with open_source(bundled_video("bikes.mp4")) as src:
        rgb = [f.image for f, _ in zip(src, range(10))]
    bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in rgb]
    H, W = rgb[0].shape[:2]
    init = [[W * 0.4, H * 0.35, W * 0.12, H * 0.25]]
    dropped, _ = live_source([bgr[:6], None, bgr[6:]], ReconnectPolicy(attempts=3, **FAST))
    steady, _ = live_source([bgr], ReconnectPolicy())
    jsonl = {"dropped": tmp_path / "dropped.jsonl", "steady": tmp_path / "steady.jsonl"}
    boxes = {}
    for name, src in (("dropped", dropped), ("steady", steady)):
        frames = (f for _, f in zip(range(len(bgr)), src))   # stop without reading past the last frame
        track_frames(frames, load_tracker(None), init, [JsonlSink(jsonl[name])])
        boxes[name] = [json.loads(line)["boxes"] for line in jsonl[name].read_text().splitlines()]
    assert boxes["dropped"] == boxes["steady"] and len(boxes["dropped"]) == 10   # same boxes as without the drop
    recs = [json.loads(line) for line in jsonl["dropped"].read_text().splitlines()]
    marked = [r["frame"] for r in recs if "reconnect" in r]
    assert marked == [6] and recs[6]["reconnect"]["attempts"] == 2 and recs[6]["reconnect"]["gap_s"] > 0


def test_real_http_mjpeg_stream_reconnects():
    with mjpeg_camera() as (url, connections):
        with open_source(url, reconnect=ReconnectPolicy(attempts=4, **FAST)) as src:
            frames = [f for _, f in zip(range(16), src)]
    assert [f.index for f in frames] == list(range(16))
    levels = [int(f.image.mean().round()) for f in frames]
    assert all(abs(v - 40) <= 3 for v in levels[:8]) and all(abs(v - 200) <= 3 for v in levels[8:])
    assert [f.gap is not None for f in frames] == [False] * 8 + [True] + [False] * 7
    assert frames[8].gap.attempts == 2 and connections == [0, 1, 2]
