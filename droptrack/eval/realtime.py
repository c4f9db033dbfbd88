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
from dataclasses import dataclass
from typing import Any

import numpy as np

from droptrack.errors import InputError

EPS_S = 1e-9   # a processing that finishes on a frame's arrival instant counts as finished by then
MIN_FPS = 0.001          # slower streams' arrival times (i / fps seconds) are too coarse to add a latency to
MIN_LATENCY_MS = 0.001   # the frame's recorded time: `_time.txt` holds microseconds, and 0 there means skipped


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
        if self.fps < MIN_FPS:   # arrival times of seconds * 1e12 lose the latency: each frame got its own box
            raise InputError(f"--realtime-fps {self.fps:g} must be at least {MIN_FPS:g} (a frame every 1000 s; "
                             "below it arrival times lose the tracker's latency), e.g. 30")
        if self.latency_ms is not None and not (math.isfinite(self.latency_ms) and self.latency_ms > 0):
            raise InputError(f"--latency-ms {self.latency_ms} must be > 0 (ms per processed frame), e.g. 25")
        if self.latency_ms is not None and self.latency_ms < MIN_LATENCY_MS:   # recorded as 0: 'not processed'
            raise InputError(f"--latency-ms {self.latency_ms:g} must be at least {MIN_LATENCY_MS:g} (1 us, what "
                             "_time.txt files resolve), e.g. 25")
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
    arrived = min(finish_s * fps + EPS_S, 2.0 ** 62)   # every frame, not inf: --realtime-fps 1e308 --latency-ms 1e300
    return max(last + 1, math.floor(arrived))


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


class Schedule:
    """One sequence's stream: which frames the tracker runs on (`runs`, then `finished` with its seconds) and what
    each frame is scored with (`scored`)."""

    def __init__(self, rt: RealTime):
        self.rt, self.free_s, self.take = rt, 0.0, 0
        self.frames: list[int] = []        # processed frames, in order
        self.finishes: list[float] = []    # when each one's box was ready (s)

    def runs(self, i: int) -> bool:
        """Whether the tracker takes frame i (it is free and i is the newest arrived frame)."""
        return i == self.take

    def finished(self, i: int, seconds: float) -> float:
        """Frame i took `seconds` here (a fixed latency_ms replaces it); sets the next frame the tracker takes and
        returns the latency the stream waited, the frame's time to record (with latency_ms, the simulated device's:
        this machine's time made its FPS read 50 for a row whose scores are those of a 10 FPS tracker)."""
        latency = seconds if self.rt.latency_ms is None else self.rt.latency_ms / 1000.0
        self.free_s = max(self.free_s, i / self.rt.fps) + latency
        self.frames.append(i)
        self.finishes.append(self.free_s)
        self.take = next_frame(self.free_s, self.rt.fps, i)
        return latency

    def scored(self, boxes: np.ndarray, init_box: Any) -> np.ndarray:
        """(n, 4) scored boxes from the (n, 4) tracker boxes, of which only the processed frames' rows are read."""
        outputs = [boxes[i] for i in self.frames]
        return scored_boxes(len(boxes), self.finishes, outputs, self.rt.fps, init_box,
                            self.frames if self.rt.predict else None)
