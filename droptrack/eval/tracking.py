"""One sequence's one-pass evaluation (OPE) with a loaded tracker, and what a worker process needs to build its
tracker: the part of `dt eval`'s tracking that runs the same in the parent and in its worker processes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from droptrack.data.sequence import Sequence, first_missing_frame, missing_frame
from droptrack.decodelog import DamageLog
from droptrack.engine.onnx_files import CheckedGraph
from droptrack.errors import DatasetError, DropTrackError, InputError
from droptrack.eval.realtime import RealTime, Schedule

ProgressFn = Callable[[str, int, int], None]   # (sequence, frames done, frames total)
PROGRESS_PERIOD_S = 0.1


@dataclass
class TrackedSequence:
    """One sequence's OPE output: (N,4) float64 boxes (row 0 = init GT) and per-frame tracker seconds."""

    name: str
    boxes: np.ndarray
    times: np.ndarray
    procedure: str = ""   # the tracker's settings in words (`TrackerExt.describe`; "" for OpenCV baselines)
    processed: int = -1   # frames the tracker ran on (real-time evaluation skips some); -1: all of them
    damage_note: str | None = None   # frames that decoded despite damage (`DamageLog.note`), said by the parent


@dataclass
class TrackerSpec:
    """What a worker needs to build its tracker and to run it (plain, picklable data)."""

    artifact: str | None
    config: str | None
    device: str
    threads: int | None = None    # torch/ONNX Runtime/OpenCV threads per worker; None leaves the defaults
    baseline: str | None = None   # a classic OpenCV tracker (droptrack.eval.baselines) instead of an artifact
    ext: dict | None = None       # tracker-extension overrides of the artifact's TEST keys (TEST-style keys)
    realtime: RealTime | None = None   # latency-aware evaluation (droptrack.eval.realtime); None: every frame
    checked: CheckedGraph | None = None   # an .onnx artifact's check (eval.resume.checked): no second parse to load
    trust: bool = False           # --trust-checkpoint: a legacy pickle's foreign objects read as inert records

    def needs_torch(self) -> bool:
        """Whether loading this tracker imports torch (~2 s and a few hundred MB per worker): not for a classic
        OpenCV tracker, nor for an ONNX model on the CPU (ONNX Runtime and the host Tracker)."""
        from droptrack.runtime.build import needs_torch

        return self.baseline is None and needs_torch(self.artifact, self.device, self.config)


class WorkerInitError(DropTrackError):
    """A worker could not load the tracker (the message is the loader's own)."""


class WorkerDied(DropTrackError):
    """The worker process tracking a sequence ended without a result (kill -9, the OOM killer, a crash)."""


def track_sequence(tracker: Any, seq: Any, progress: ProgressFn | None = None,
                   realtime: RealTime | None = None) -> TrackedSequence:
    """Run OPE on one sequence: initialise on frame 0 with its GT, track the rest; time only the tracker calls.
    With `realtime`, frames arrive at its rate and the tracker skips those that come while it is busy."""
    n = len(seq)
    missing = first_missing_frame(seq.frames) if getattr(seq, "frames", None) is not None else None
    if missing is not None:   # found before tracking, not after the frames before it (minutes on a long sequence)
        raise missing_frame(missing)
    schedule = Schedule(realtime) if realtime is not None else None
    boxes = np.zeros((n, 4), dtype=np.float64)
    times = np.zeros(n, dtype=np.float64)     # a frame the stream skipped costs 0 s
    last = time.monotonic()
    damage = DamageLog()
    for i, frame in enumerate(seq.iter_frames(damage) if isinstance(seq, Sequence) else seq.iter_frames()):
        if schedule is None or schedule.runs(i):
            t0 = time.perf_counter()
            if i == 0:
                _initialize(tracker, frame, seq)
                box = seq.boxes[0]
            else:
                box, _ = tracker.track(frame)
            times[i] = time.perf_counter() - t0
            boxes[i] = box
            if schedule is not None:   # --latency-ms: the simulated latency is the frame's time (and FPS)
                times[i] = schedule.finished(i, times[i])
        if progress is not None and (i == n - 1 or time.monotonic() - last >= PROGRESS_PERIOD_S):
            progress(seq.name, i + 1, n)
            last = time.monotonic()
    note = damage.note(f"sequence {seq.name}")
    if schedule is not None:
        return TrackedSequence(seq.name, schedule.scored(boxes, seq.boxes[0]), times, _describe(tracker),
                               len(schedule.frames), note)
    return TrackedSequence(seq.name, boxes, times, _describe(tracker), damage_note=note)


def _initialize(tracker: Any, frame: np.ndarray, seq: Any) -> None:
    """Start on frame 0 with its GT box; an unusable box points at the annotation (the caller names the sequence)."""
    try:
        tracker.initialize(frame, seq.boxes[0])
    except InputError as exc:
        reason = str(exc).split("; ")[0]
        raise DatasetError(f"the first ground-truth box cannot start tracking ({reason}); fix the first line of the "
                           "sequence's annotation file or leave it out (--sequences)") from None


def _describe(tracker: Any) -> str:
    """The tracker's settings in words ('' for trackers without extensions, e.g. OpenCV baselines)."""
    describe = getattr(getattr(tracker, "ext", None), "describe", None)
    return describe() if describe is not None else ""


def load(spec: TrackerSpec) -> Any:
    """Build the tracker of a spec (heavy imports here, so spawned workers import only what they use)."""
    if spec.baseline is not None:
        from droptrack.eval.baselines import create

        return create(spec.baseline)
    from droptrack.runtime.tracker import Tracker, load_backend, tracker_ext

    backend = load_backend(spec.artifact, spec.config, spec.device, spec.threads or 0, trust=spec.trust,
                           checked=spec.checked)
    return Tracker(backend, tracker_ext(backend, spec.ext))
