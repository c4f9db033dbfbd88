"""Tracking sequences for `dt eval`: in-process, or in 'spawn' worker processes with one tracker each.

Each worker process has a pipe of its own to the parent and is its only writer: a worker killed at any moment
(kill -9, the OOM killer) holds no lock the others need and leaves no half message in a channel they share. The
parent hands the sequences out itself, one at a time, so it always knows which one a dead worker had. Workers load
the tracker once, ignore SIGINT (the parent terminates them), end with the parent, send per-frame progress and each
sequence's boxes and times; only the parent writes files.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from droptrack.engine.threads import apply_late_torch, apply_threads, restore_threads
from droptrack.errors import DropTrackError
from droptrack.eval.tracking import (PROGRESS_PERIOD_S, ProgressFn, TrackedSequence, TrackerSpec, WorkerDied,
                                     WorkerInitError, load, track_sequence)
from droptrack.signals import Stopped
from droptrack.videofiles import one_line_warning

__all__ = ["PROGRESS_PERIOD_S", "LoadedTrackers", "ProgressFn", "TrackedSequence", "TrackerSpec", "WorkerDied",
           "WorkerInitError", "load", "sigterm_as_interrupt", "track_sequence"]

# ---- worker process side ----------------------------------------------------------------------------------------


def _worker_main(spec: TrackerSpec, conn: Any) -> None:
    """Worker process: load the tracker, say ("ready", None) or ("error", exc), then track each sequence the parent
    sends, sending ("progress", (name, done, total)) and ("done", result) or ("failed", exc), until it sends None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    warnings.showwarning = functools.partial(one_line_warning, warnings.showwarning)   # as the parent shows ours
    try:
        old = None
        if spec.threads:
            os.environ["OMP_NUM_THREADS"] = str(spec.threads)   # read by ONNX Runtime / OpenMP at load
            old = apply_threads(spec.threads, torch_too=spec.needs_torch())
        tracker = load(spec)
        if old is not None:   # the embedded graph's torch fallback imported torch: its count too
            apply_late_torch(spec.threads, old)
    except Exception as exc:  # noqa: BLE001 - the parent raises it
        _send(conn, "error", WorkerInitError(str(exc)) if isinstance(exc, DropTrackError) else RuntimeError(
            f"a worker failed to load the tracker: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))

    def progress(name: str, done: int, total: int) -> None:
        conn.send(("progress", (name, done, total)))

    while True:
        try:
            seq = conn.recv()
        except (EOFError, OSError):
            return
        if seq is None:
            return
        try:
            kind, payload = "done", track_sequence(tracker, seq, progress, spec.realtime)
        except DropTrackError as exc:
            kind, payload = "failed", exc
        except Exception as exc:  # noqa: BLE001 - the parent raises it: the run stops, as in one process
            kind, payload = "crashed", exc
        _send(conn, kind, payload)


def _send(conn: Any, kind: str, payload: Any) -> None:
    """Send a message. An exception that would not come back whole in the parent (it does not pickle, or its class
    cannot be rebuilt from its pickle) goes as the same family's plain error of its text: a DropTrackError still
    fails only its sequence. Pickling happens in full before any byte is written: nothing is left half-sent."""
    if isinstance(payload, BaseException):
        import pickle

        try:   # what the parent's unpickling does, without unpickling: dump it, then call its own rebuild
            pickle.dumps(payload)
            rebuild, args = payload.__reduce_ex__(pickle.DEFAULT_PROTOCOL)[:2]
            rebuild(*args)
        except Exception:  # noqa: BLE001 - any failure to round-trip
            text = str(payload) or type(payload).__name__
            payload = DropTrackError(text) if isinstance(payload, DropTrackError) else RuntimeError(
                f"{type(payload).__name__}: {text}")
    conn.send((kind, payload))


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


# ---- parent side -------------------------------------------------------------------------------------------------

DoneFn = Callable[[TrackedSequence | None, Any, Exception | None], None]
ALL_DIED = ("every worker process died before it could track (kill -9, out of memory, a crash); if memory ran out, "
            "pass fewer --workers, and run the same command to resume")


@dataclass
class _Worker:
    """The parent's handle on one worker process: its process, its pipe, and the sequence it was given."""

    proc: Any
    conn: Any
    ready: bool = False
    seq: Any = None


class LoadedTrackers:
    """Context manager: the run's tracker(s), loaded on entry, before the caller writes any output (a corrupt model
    is then a one-line error with nothing on disk): in this process for one worker (thread counts restored on
    exit), else min(workers, count) 'spawn' processes, entered once one of them has loaded its tracker.
    `wrap` (one worker only): applied to the loaded tracker, e.g. dt bench's per-stage timer around it."""

    def __init__(self, spec: TrackerSpec, workers: int, count: int, wrap: Callable[[Any], Any] | None = None):
        if wrap is not None and workers != 1:
            raise ValueError("a tracker wrapper runs in this process: use one worker")
        self.spec, self.workers, self.count, self.wrap = spec, workers, count, wrap
        self._tracker: Any = None
        self._old_threads: Any = None
        self._late_threads: Any = None   # torch's count, where the load imported torch after _old_threads
        self._ctx: Any = None
        self._procs: list[_Worker] = []
        self._idle_deaths = 0   # workers that died holding no sequence: replaced at most once per worker

    def __enter__(self) -> "LoadedTrackers":
        try:
            if self.workers == 1:
                self._old_threads = (apply_threads(self.spec.threads, torch_too=self.spec.needs_torch())
                                     if self.spec.threads else None)
                self._tracker = load(self.spec)
                if self._old_threads is not None:   # the embedded graph's torch fallback: restored in __exit__
                    self._late_threads = apply_late_torch(self.spec.threads, self._old_threads)
                if self.wrap is not None:
                    self._tracker = self.wrap(self._tracker)
            else:
                import multiprocessing as mp

                self._ctx = mp.get_context("spawn")
                for _ in range(max(1, min(self.workers, self.count))):
                    self._start()
                while not any(w.ready for w in self._procs):
                    self._step([], lambda *a: None, None)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _start(self) -> None:
        """Start one worker process with a pipe of its own."""
        here, there = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(self.spec, there), daemon=True)
        proc.start()
        there.close()   # the worker's end lives in the worker only: its death reads as end of file here
        self._procs.append(_Worker(proc, here))

    def run(self, seqs: list[Any], progress: ProgressFn, on_done: DoneFn) -> None:
        """Track sequences (processes: longest first as given, in parallel); on_done(result, seq, error) is called in
        this process as each finishes. A DropTrackError of one sequence (WorkerDied: its worker process died) is
        passed to it; a failure to load the tracker or any other exception stops the run."""
        if not self._procs:
            for seq in seqs:
                try:
                    res = track_sequence(self._tracker, seq, progress, self.spec.realtime)
                except DropTrackError as exc:
                    on_done(None, seq, exc)
                    continue
                on_done(res, seq, None)
            return
        todo = list(seqs)
        while todo or any(w.seq is not None for w in self._procs):
            self._step(todo, progress, on_done)

    def _step(self, todo: list[Any], progress: ProgressFn, on_done: DoneFn | None) -> None:
        """Give idle workers the next sequences, then handle what the workers sent (or their deaths)."""
        from multiprocessing.connection import wait

        for w in self._procs:
            if todo and w.ready and w.seq is None:
                try:
                    w.conn.send(todo[0])
                except OSError:   # it died: its end of file, read below, says so
                    continue
                w.seq = todo.pop(0)
        if not self._procs:
            raise WorkerDied(ALL_DIED)
        for conn in wait([w.conn for w in self._procs], timeout=0.5):
            w = next(w for w in self._procs if w.conn is conn)
            try:
                kind, payload = conn.recv()
            except (EOFError, OSError):   # dead; a result cut off mid-write is lost with it, and only it
                self._died(w, todo, on_done)
                continue
            if kind == "progress":
                progress(*payload)
            elif kind == "ready":
                w.ready, self._idle_deaths = True, 0
            elif kind in ("error", "crashed"):
                raise payload
            else:
                seq, w.seq = w.seq, None
                assert on_done is not None
                on_done(payload if kind == "done" else None, seq, payload if kind == "failed" else None)

    def _died(self, w: _Worker, todo: list[Any], on_done: DoneFn | None) -> None:
        """A worker process ended: fail its sequence, start a replacement while there is work (one that died
        holding no sequence is replaced at most once per worker: a worker that cannot even start ends the run)."""
        w.conn.close()
        w.proc.join()
        self._procs.remove(w)
        if w.seq is not None and on_done is not None:
            on_done(None, w.seq, WorkerDied(f"its worker process (pid {w.proc.pid}) died without a result "
                                            "(kill -9, out of memory, a crash)"))
        else:
            self._idle_deaths += 1
        work = todo or on_done is None or any(p.seq is not None for p in self._procs)
        if work and self._idle_deaths <= max(1, min(self.workers, self.count)):
            self._start()
        elif not self._procs and todo:
            raise WorkerDied(ALL_DIED)

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        """Restore thread counts; end the workers (terminated after an error or Ctrl-C)."""
        if self._late_threads is not None:
            restore_threads(self._late_threads)
            self._late_threads = None
        if self._old_threads is not None:
            restore_threads(self._old_threads)
            self._old_threads = None
        procs, self._procs = self._procs, []
        for w in procs:
            if exc_type is None:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
            else:
                w.proc.terminate()
        for w in procs:
            w.proc.join(10)
            if w.proc.is_alive():
                w.proc.terminate()
                w.proc.join()
            w.conn.close()


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
        raise Stopped(signum)   # a KeyboardInterrupt that keeps the signal: the CLI exits 143 / 129, not 130

    def __exit__(self, *exc: Any) -> None:
        for signum, old in self._old.items():
            signal.signal(signum, old)
