"""Latency of one artifact on the bench frames: per-frame stage times of its accuracy pass, after a warm-up.

`StageTimer` wraps the tracker of `dt eval`'s pass over the bench frames (the pass that scores the artifact), so
every frame is tracked once and timed as it is tracked. Per tracked frame: model-only = the backend's own
`latencies_ms` (the `infer()` call), end-to-end = pre + infer + post (crops and normalisation, inference,
window/decode/map-back, the stages of the `dt run` loop, `droptrack.runtime.loop.track_frames`) - the tracker time
that `dt eval` writes to its `_time.txt` files; frame decoding is excluded (reported as `decode`: the time from the
end of one tracker call to the start of the next within a sequence). The first `warmup` tracked frames are tracked
but not counted. `measure_latency` is the separate timing pass through `track_frames`, for a row whose accuracy pass
tracked only part of the frames (the rest resumed from an interrupted bench).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from droptrack.errors import printable
from droptrack.eval.machine import PeakMemory
from droptrack.signals import Stopped

PERCENTILES = (50, 90, 95, 99)


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    """mean, p50 (the median), p90, p95, p99 of the per-frame samples (None when empty): numpy's default percentile,
    linear between the two nearest ranks, as most latency tables take it."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return {"mean": None, **{f"p{p}": None for p in PERCENTILES}}
    return {"mean": float(a.mean()), **{f"p{p}": float(np.percentile(a, p)) for p in PERCENTILES}}


@dataclass
class Latency:
    """Timed-frame statistics (ms); `fps` = 1000 / mean end-to-end ms."""

    model_ms: dict[str, float | None]
    e2e_ms: dict[str, float | None]
    stages_ms: dict[str, float | None]     # mean per stage: decode, pre, infer, post
    frames: int
    warmup_frames: int
    init_ms: float | None = None

    @property
    def fps(self) -> float | None:
        m = self.e2e_ms.get("mean")
        return 1000.0 / m if m else None

    def to_dict(self) -> dict[str, Any]:
        return {"model_ms": self.model_ms, "e2e_ms": self.e2e_ms, "stages_ms": self.stages_ms, "fps": self.fps,
                "frames": self.frames, "warmup_frames": self.warmup_frames, "init_ms": self.init_ms}


def _frames(seq: Any, limit: int) -> Iterator[Any]:
    """The first `limit` frames of a sequence as runtime Frames (lazily decoded)."""
    from droptrack.runtime.sources import Frame

    for i, image in enumerate(seq.iter_frames()):
        if i >= limit:
            return
        yield Frame(i, float(i), image)


def _track(tracker: Any, seqs: Sequence[Any], budget: int, on_frame: Callable[[int], None]) -> list[Any]:
    """Track sequences (each from its first frame) until `budget` tracked frames; returns the RunSummaries."""
    from droptrack.runtime.loop import track_frames

    done, summaries = 0, []
    for seq in seqs:
        if done >= budget:
            break
        n = min(len(seq), budget - done + 1)
        base = done
        s = track_frames(_frames(seq, n), tracker, [list(seq.boxes[0])], max_frames=n, lost_threshold=0.0,
                         on_frame=lambda sm: on_frame(base + max(sm.frames - 1, 0)), record_times=True)
        if s.interrupted:   # a SIGTERM stays one (dt bench exits 143 with its line, not 130)
            raise Stopped(s.signal) if s.signal not in (None, signal.SIGINT) else KeyboardInterrupt
        done += s.tracked
        summaries.append(s)
    return summaries


def measure_latency(artifact: str | None, seqs: Sequence[Any], device: str = "cpu", config: str | None = None,
                    warmup: int = 10, max_frames: int = 200, threads: int | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    ext: dict | None = None, graph: Any = None,
                    trust: bool = False) -> tuple[Latency, dict[str, Any], Any]:
    """Load the artifact's tracker (`ext`: extension overrides), warm up, time up to `max_frames` tracked frames.
    `graph`: the caller's `onnx_files.check_graph` of an .onnx artifact, so the graph is not parsed again; `trust`:
    --trust-checkpoint (a legacy pickle's foreign objects read as inert records).

    Returns (Latency, memory dict of PeakMemory over load + run, the backend's ArtifactMeta).
    Loading errors propagate (the caller turns them into a 'failed' row).
    """
    from droptrack.engine.threads import apply_threads, plan_threads, restore_threads
    from droptrack.runtime.tracker import Tracker, load_backend, tracker_ext

    total = sum(len(s) - 1 for s in seqs)
    budget = max(1, min(max_frames, total))
    warm = min(warmup, max(0, total - 1) // 2) if total > 1 else 0
    report = progress or (lambda done, tot: None)
    n = plan_threads(threads, artifact).threads
    old = apply_threads(n)
    try:
        with PeakMemory(cuda=device.startswith("cuda")) as mem:
            backend = load_backend(artifact, config, device, n, trust=trust, checked=graph)
            tracker = Tracker(backend, tracker_ext(backend, ext))
            try:
                if warm:
                    _track(tracker, seqs, warm, lambda k: report(k, warm + budget))
                backend = tracker.backend
                backend.latencies_ms.clear()
                runs = _track(tracker, seqs, budget, lambda k: report(warm + k, warm + budget))
                model = list(backend.latencies_ms)
                meta = backend.meta
            finally:
                tracker.backend.close()
    finally:
        restore_threads(old)
    cat = {k: [v for r in runs for v in r.times_ms[k]] for k in ("capture", "pre", "infer", "post")}
    e2e = [a + b + c for a, b, c in zip(cat["pre"], cat["infer"], cat["post"])]
    stages = {"decode": _stats(cat["capture"])["mean"], **{k: _stats(cat[k])["mean"] for k in ("pre", "infer", "post")}}
    init = [r.init_ms for r in runs]
    lat = Latency(_stats(model), _stats(e2e), stages, len(e2e), warm, float(np.mean(init)) if init else None)
    return lat, mem.to_dict(), meta


class StageTimer:
    """Per-stage times of a tracker while `dt eval` runs it (`wrap`), for `total` tracked frames ahead: the first
    `warmup` (at most half of them) are not counted, then up to `max_frames` are; peak memory from before the model
    loads to the last tracked frame. Boxes are those of the tracker alone: the same calls as `Tracker.track`."""

    def __init__(self, total: int, warmup: int = 10, max_frames: int = 200, cuda: bool = False):
        self.warm = min(warmup, max(0, total - 1) // 2) if total > 1 else 0
        self.budget = max(1, min(max_frames, total - self.warm))
        self.total, self.seen = total, 0
        self.times: dict[str, list[float]] = {k: [] for k in ("capture", "pre", "infer", "post")}
        self.model: list[float] = []
        self.init: list[float] = []
        self.tracker: Any = None
        self._last: float | None = None
        self.memory = PeakMemory(cuda=cuda).__enter__()
        self._memory_open = True

    def wrap(self, tracker: Any) -> "StageTimer":
        """The object `dt eval` tracks with: this timer around `tracker`."""
        self.tracker = tracker
        return self

    def __getattr__(self, name: str) -> Any:   # ext, backend, states, close ...: the tracker's own
        if name == "tracker":
            raise AttributeError(name)
        return getattr(self.tracker, name)

    def _sync(self) -> None:
        sync = getattr(self.tracker, "sync", None)
        if sync is not None:
            sync()

    def initialize(self, frame: Any, box: Any) -> None:
        """The tracker's `initialize`, timed (`init_ms` counts those after the warm-up)."""
        t0 = time.perf_counter()
        self.tracker.initialize(frame, box)
        self._sync()
        self._last = time.perf_counter()
        if self.seen >= self.warm:
            self.init.append((self._last - t0) * 1000.0)

    def track(self, frame: Any) -> tuple[list[float], float]:
        """`Tracker.track` through its `track_timed` (preprocess, infer, postprocess, each synced and timed)."""
        from droptrack.errors import TrackerStateError

        t0 = time.perf_counter()
        tr = self.tracker
        results, ms = tr.track_timed(frame)
        k, self.seen = self.seen, self.seen + 1
        if self.warm <= k < self.warm + self.budget:
            self.times["capture"].append((t0 - (t0 if self._last is None else self._last)) * 1000.0)
            for name in ("pre", "infer", "post"):
                self.times[name].append(ms[name])
            self.model.append(tr.backend.latencies_ms[-1])
        if self.seen >= self.total:
            self.close_memory()
        self._last = time.perf_counter()
        if not results:
            raise TrackerStateError("no target left to track (all were removed); call initialize(frame, box) again")
        return results[0].box, results[0].score

    def close_memory(self) -> None:
        """End the peak-memory window (at the last tracked frame, before dt eval writes its report)."""
        if self._memory_open:
            self._memory_open = False
            self.memory.__exit__(None, None, None)

    def latency(self) -> Latency | None:
        """The timed frames' statistics (None when no frame was timed)."""
        self.close_memory()
        if not self.times["pre"]:
            return None
        cat = self.times
        e2e = [a + b + c for a, b, c in zip(cat["pre"], cat["infer"], cat["post"])]
        stages = {k: _stats(cat[k])["mean"] for k in ("pre", "infer", "post")}
        return Latency(_stats(self.model), _stats(e2e), {"decode": _stats(cat["capture"])["mean"], **stages},
                       len(e2e), self.warm, float(np.mean(self.init)) if self.init else None)


def latency_from_times(times: Sequence[np.ndarray]) -> Latency:
    """Latency of a tracker timed by `dt eval` (per-frame seconds, frame 0 = init): every tracked frame, no warm-up;
    model-only and end-to-end are the same tracker call (used for OpenCV baselines, which have no stages)."""
    tracked = [1000.0 * float(v) for t in times for v in np.asarray(t)[1:]]
    init = [1000.0 * float(t[0]) for t in times if len(t)]
    stats = _stats(tracked)
    return Latency(stats, stats, {"tracker": stats["mean"]}, len(tracked), 0, float(np.mean(init)) if init else None)


class bar:
    """Context manager: a rich progress bar on stderr fed by update(done, total); a no-op when disabled."""

    def __init__(self, label: str, enabled: bool = True):
        # the description column reads no markup or emoji codes: a row or file name ('[red]b', 'run:smile:1') is text
        self.label, self.enabled, self._p, self._task = printable(label), enabled, None, None

    def __enter__(self) -> Callable[[int, int], None]:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._p = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                               TimeElapsedColumn(), console=Console(stderr=True))
            self._task = self._p.add_task(self.label, total=None)
            self._p.start()
        return self.update

    def update(self, done: int, total: int) -> None:
        if self._p is not None:
            self._p.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: Any) -> None:
        if self._p is not None:
            self._p.stop()
