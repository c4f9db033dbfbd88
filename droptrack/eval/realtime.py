"""Latency-aware evaluation (`dt eval --realtime-fps`): what a tracker reports when frames do not wait for it.

The protocol of streaming perception (Li, Wang and Ramanan, ECCV 2020) as the LAE / e-LAE tracking benchmarks
(PVT, PVT++) apply it: frame i arrives at i / fps. The tracker starts on a frame when it is free and that frame has
arrived, always the newest arrived one (frames that arrived while it was busy are skipped), and needs its latency
for it: the time measured here, or a fixed `latency_ms` (a target device's, e.g. from `dt bench` on a Jetson), for
every processed frame, the first one included. Frame i is scored with the newest box whose processing had finished
by i / fps; before the first one finishes, the initial box. So even a tracker faster than the stream reports, at
frame i, its box of frame i - 1. With `predict`, that box is moved to frame i at the constant velocity of the last
two processed frames' boxes (the motion-model baseline of predictive tracking; size unchanged).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from droptrack.errors import InputError

EPS_S = 1e-9   # a processing that finishes on a frame's arrival instant counts as finished by then


@dataclass(frozen=True)
class RealTime:
    """The stream's frame rate and, optionally, a fixed per-frame latency in ms (None: measured on this machine)."""

    fps: float
    latency_ms: float | None = None
    predict: bool = False

    def check(self) -> "RealTime":
        """One-line errors for rates and latencies that cannot be simulated."""
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise InputError(f"--realtime-fps {self.fps} must be a frame rate > 0, e.g. 30")
        if self.latency_ms is not None and not (math.isfinite(self.latency_ms) and self.latency_ms > 0):
            raise InputError(f"--latency-ms {self.latency_ms} must be > 0 (ms per processed frame), e.g. 25")
        return self

    def to_dict(self) -> dict:
        """What eval.json records (and a resumed folder must match); `predict` only when on."""
        return {"fps": self.fps, "latency_ms": self.latency_ms, **({"predict": True} if self.predict else {})}

    def suffix(self) -> str:
        """Results-folder suffix, e.g. '+realtime30' or '+realtime30_latency25'."""
        lat = "" if self.latency_ms is None else f"_latency{self.latency_ms:g}"
        return f"+realtime{self.fps:g}{lat}" + ("_predict" if self.predict else "")

    def describe(self) -> str:
        """In words, for the summary."""
        lat = "latency measured here" if self.latency_ms is None else f"latency {self.latency_ms:g} ms per frame"
        pred = "; boxes moved to each frame's time at constant velocity" if self.predict else ""
        return f"real time at {self.fps:g} FPS ({lat}; frames that arrive while the tracker is busy are skipped{pred})"


def next_frame(finish_s: float, fps: float, last: int) -> int:
    """The frame the tracker takes when it is free at `finish_s`: the newest arrived, but never one already seen."""
    return max(last + 1, math.floor(finish_s * fps + EPS_S))


def scored_boxes(n: int, finishes: list[float], boxes: list[Any], fps: float, init_box: Any,
                 frames: list[int] | None = None) -> np.ndarray:
    """(n, 4): per frame, the newest box finished by its arrival (`finishes` ascending); the init box before any.
    With `frames` (the processed frame of each box), the box is moved to the frame at the constant velocity of the
    last two boxes (per frame, from their frames' indices)."""
    out = np.empty((n, 4), dtype=np.float64)
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    k = 0
    for i in range(n):
        while k < len(finishes) and finishes[k] <= i / fps + EPS_S:
            k += 1
        out[i] = b[k - 1] if k else np.asarray(init_box, dtype=np.float64)
        if frames is not None and k >= 2:
            centre = b[k - 1, :2] + 0.5 * b[k - 1, 2:]
            velocity = (centre - b[k - 2, :2] - 0.5 * b[k - 2, 2:]) / (frames[k - 1] - frames[k - 2])
            out[i, :2] = centre + velocity * (i - frames[k - 1]) - 0.5 * b[k - 1, 2:]
    return out


def track_realtime(tracker: Any, seq: Any, rt: RealTime,
                   progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(scored boxes (n, 4), per-frame tracker seconds (0 for skipped frames), frames processed) of one sequence."""
    n, fps = len(seq), rt.fps
    times = np.zeros(n, dtype=np.float64)
    finishes: list[float] = []
    outputs: list[Any] = []
    frames: list[int] = []
    free_s, take = 0.0, 0
    for i, frame in enumerate(seq.iter_frames()):
        if progress is not None:
            progress(i + 1)
        if i != take:
            continue
        t0 = time.perf_counter()
        if i == 0:
            tracker.initialize(frame, seq.boxes[0])
            box = seq.boxes[0]
        else:
            box, _ = tracker.track(frame)
        times[i] = time.perf_counter() - t0
        latency = times[i] if rt.latency_ms is None else rt.latency_ms / 1000.0
        free_s = max(free_s, i / fps) + latency
        finishes.append(free_s)
        outputs.append(box)
        frames.append(i)
        take = next_frame(free_s, fps, i)
    scored = scored_boxes(n, finishes, outputs, fps, seq.boxes[0], frames if rt.predict else None)
    return scored, times, len(outputs)
