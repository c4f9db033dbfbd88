"""Tracking sequences for `dt eval`: in-process or in a 'spawn' pool with one tracker per worker process.

The tracker(s) are loaded before the caller writes anything (`LoadedTrackers`). Workers load the tracker once
(pool initializer), ignore SIGINT (the parent terminates them), report per-frame progress through a queue and
return each sequence's boxes and times; only the parent writes files.
"""

from __future__ import annotations

import functools
import os
import queue as queue_mod
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from droptrack.data.sequence import Sequence, first_missing_frame, missing_frame
from droptrack.decodelog import DamageLog
from droptrack.engine.onnx_files import CheckedGraph
from droptrack.engine.threads import apply_threads, restore_threads
from droptrack.errors import DatasetError, DropTrackError, InputError
from droptrack.eval.realtime import RealTime, Schedule
from droptrack.videofiles import one_line_warning

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
            if schedule is not None:
                schedule.finished(i, times[i])
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

    backend = load_backend(spec.artifact, spec.config, spec.device, spec.threads or 0, checked=spec.checked)
    return Tracker(backend, tracker_ext(backend, spec.ext))


# ---- worker process side ----------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(spec: TrackerSpec, progress_queue: Any, starts: Any = None) -> None:
    """Pool initializer: ignore Ctrl-C, set thread counts, load the tracker once (errors are kept, not raised,
    because a raising initializer makes the pool respawn workers forever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    warnings.showwarning = functools.partial(one_line_warning, warnings.showwarning)   # as the parent shows ours
    _WORKER.update(queue=progress_queue, starts=starts, tracker=None, error=None, realtime=spec.realtime)
    try:
        if spec.threads:
            os.environ["OMP_NUM_THREADS"] = str(spec.threads)   # read by ONNX Runtime / OpenMP at load
            apply_threads(spec.threads)
        _WORKER["tracker"] = load(spec)
    except Exception as exc:  # noqa: BLE001 - reported by the first task instead
        _WORKER["error"] = exc


def _exit_with_parent() -> None:
    """End this worker as soon as the parent is gone (kill -9, OOM killer): an orphan would go on tracking its
    sequence, possibly for minutes, for results nobody writes, and slow down or starve the rerun that resumes them."""
    import multiprocessing
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return

    def watch() -> None:
        wait([parent.sentinel])   # readable only once the parent has exited
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker_progress(name: str, done: int, total: int) -> None:
    """Send progress to the parent (dropped if the queue is gone)."""
    try:
        _WORKER["queue"].put_nowait((name, done, total))
    except Exception:  # noqa: BLE001 - progress is best-effort
        pass


def _loaded() -> Any:
    """This worker's tracker; its load error (kept by `_init_worker`) is raised here instead."""
    err = _WORKER.get("error")
    if err is not None:
        if isinstance(err, DropTrackError):
            raise WorkerInitError(str(err))
        raise RuntimeError(f"a worker failed to load the tracker: {type(err).__name__}: {err}")
    return _WORKER["tracker"]


def _probe() -> None:
    """Pool task: returns once a worker has loaded its tracker, raises its load error."""
    _loaded()


def _run_task(seq: Any) -> TrackedSequence:
    """Pool task: track one sequence with this worker's tracker (first telling the parent which process tracks it,
    so that it notices when this process dies: the pool would wait for the lost task forever)."""
    _WORKER["starts"].put((seq.name, os.getpid()))   # a SimpleQueue: in the pipe before tracking starts (a Queue
    # hands it to a feeder thread, which a kill -9 right after could take down with it: the loss went unnoticed)
    return track_sequence(_loaded(), seq, _worker_progress, _WORKER["realtime"])


# ---- parent side -------------------------------------------------------------------------------------------------

DoneFn = Callable[[TrackedSequence | None, Any, Exception | None], None]


class LoadedTrackers:
    """Context manager: the run's tracker(s), loaded on entry, before the caller writes any output (a corrupt model
    is then a one-line error with nothing on disk): in this process for one worker (thread counts restored on
    exit), else a 'spawn' pool of min(workers, count) processes, entered once one of them has loaded its tracker.
    `wrap` (one worker only): applied to the loaded tracker, e.g. dt bench's per-stage timer around it."""

    def __init__(self, spec: TrackerSpec, workers: int, count: int, wrap: Callable[[Any], Any] | None = None):
        if wrap is not None and workers != 1:
            raise ValueError("a tracker wrapper runs in this process: use one worker")
        self.spec, self.workers, self.count, self.wrap = spec, workers, count, wrap
        self._tracker: Any = None
        self._old_threads: Any = None
        self._pool: Any = None
        self._queue: Any = None
        self._starts: Any = None   # (sequence, worker pid) as each task starts
        self._broken = False

    def __enter__(self) -> "LoadedTrackers":
        try:
            if self.workers == 1:
                self._old_threads = apply_threads(self.spec.threads) if self.spec.threads else None
                self._tracker = load(self.spec)
                if self.wrap is not None:
                    self._tracker = self.wrap(self._tracker)
            else:
                import multiprocessing as mp

                ctx = mp.get_context("spawn")
                self._queue, self._starts = ctx.Queue(), ctx.SimpleQueue()
                self._pool = ctx.Pool(max(1, min(self.workers, self.count)), initializer=_init_worker,
                                      initargs=(self.spec, self._queue, self._starts))
                probe = self._pool.apply_async(_probe)
                while not probe.ready():
                    probe.wait(0.1)
                probe.get()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def run(self, seqs: list[Any], progress: ProgressFn, on_done: DoneFn) -> None:
        """Track sequences (the pool: longest first as given, in parallel); on_done(result, seq, error) is called in
        this process as each finishes. A DropTrackError of one sequence is passed to it; a failure to load the
        tracker or any other exception stops the run."""
        if self._pool is None:
            for seq in seqs:
                try:
                    res = track_sequence(self._tracker, seq, progress, self.spec.realtime)
                except DropTrackError as exc:
                    on_done(None, seq, exc)
                    continue
                on_done(res, seq, None)
            return
        pending = {i: (seq, self._pool.apply_async(_run_task, (seq,))) for i, seq in enumerate(seqs)}
        started: dict[str, int] = {}   # sequence -> the worker process tracking it
        while pending:
            _drain(self._queue, progress)
            while not self._starts.empty():
                name, pid = self._starts.get()
                started[name] = pid
            for i in [i for i, (_, ar) in pending.items() if ar.ready()]:
                seq, ar = pending.pop(i)
                try:
                    res = ar.get()
                except WorkerInitError:
                    raise
                except DropTrackError as exc:
                    on_done(None, seq, exc)
                    continue
                on_done(res, seq, None)
            for i in _lost(pending, started):
                seq, _ = pending.pop(i)
                self._broken = True   # the pool keeps the lost task: closing would wait for it forever
                on_done(None, seq, WorkerDied(f"its worker process (pid {started[seq.name]}) died without a result "
                                              "(kill -9, out of memory, a crash)"))

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        """Restore thread counts; close the pool (terminate its workers after an error or Ctrl-C)."""
        if self._old_threads is not None:
            restore_threads(self._old_threads)
            self._old_threads = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.terminate() if exc_type is not None or self._broken else pool.close()
            pool.join()
            self._queue.cancel_join_thread()
            self._queue.close()
            self._starts.close()


def _lost(pending: dict[int, tuple[Any, Any]], started: dict[str, int]) -> list[int]:
    """Keys of the pending tasks whose worker process has ended without their result."""
    import multiprocessing as mp

    running = {i: started[seq.name] for i, (seq, _) in pending.items() if seq.name in started}
    if not running:
        return []
    alive = {p.pid for p in mp.active_children()}
    gone = [i for i, pid in running.items() if pid not in alive]
    for i in gone:   # a result sent just before the process ended still arrives: give it a moment
        pending[i][1].wait(0.5)
    return [i for i in gone if not pending[i][1].ready()]


def _drain(progress_queue: Any, progress: ProgressFn, wait_s: float = 0.05) -> None:
    """Forward queued progress messages; waits up to wait_s for the first one."""
    try:
        msg = progress_queue.get(timeout=wait_s)
        while True:
            progress(*msg)
            msg = progress_queue.get_nowait()
    except (queue_mod.Empty, EOFError, OSError):
        return


class sigterm_as_interrupt:
    """Context manager: SIGTERM and SIGHUP (a closed terminal or ssh session) raise KeyboardInterrupt in the main
    thread, so `kill` cleans up like Ctrl-C (a SIGHUP that nohup ignores stays ignored)."""

    def __enter__(self) -> "sigterm_as_interrupt":
        self._old: dict[int, Any] = {}
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is None or (name == "SIGHUP" and signal.getsignal(signum) is not signal.SIG_DFL):
                continue
            try:
                self._old[signum] = signal.signal(signum, self._handler)
            except ValueError:  # not the main thread
                break
        return self

    @staticmethod
    def _handler(signum: int, frame: Any) -> None:
        from droptrack.train.stops import Stopped

        raise Stopped(signum)   # a KeyboardInterrupt that keeps the signal: the CLI exits 143 / 129, not 130

    def __exit__(self, *exc: Any) -> None:
        for signum, old in self._old.items():
            signal.signal(signum, old)
