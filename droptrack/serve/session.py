"""The tracking thread of `dt serve`: source -> tracker -> sinks, with targets added and removed while it runs.

The web handlers never touch the tracker: they queue commands (add, re-select, remove, pause) that the tracking
thread applies between frames, on the frame it holds (the one the page shows). A frame's record goes to the
sinks and the record listeners when the thread moves on to the next frame, so a target drawn on a paused frame
starts on that frame (score None, like `dt run --init` on its first frame). Files and folders start paused on
their first frame until the first target is drawn, and play at their own frame rate (`pace`); live sources run
freely. Viewers read the newest frame (`LatestFrame`); a slow viewer misses frames, the tracker never waits.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from droptrack.engine.threads import apply_late_torch
from droptrack.errors import DropTrackError, InputError, OutputFull, SourceError
from droptrack.paths import masked
from droptrack.runtime import readers, sources
from droptrack.runtime.loop import check_finite
from droptrack.runtime.run import build_tracker, resolve_device
from droptrack.runtime.sinks import ReaderGone, frame_record
from droptrack.runtime.start_notes import warn_at_start
from droptrack.serve import target_list
from droptrack.serve.commands import Mailbox, answer, ended_message, paused_state
from droptrack.serve.frames import LatestFrame
from droptrack.serve.options import CommandError, ServeOptions, SourceTimeout, Target, drawn
from droptrack.serve.outputs import Outputs, catch_up
from droptrack.serve.stats import LiveStats

COMMAND_TIMEOUT_S = 10.0    # a command not applied by then answers 503
STALL_S = 1.0               # stop(): a thread still waiting on the source after this is stopped without it


class Session:
    """One source and one tracker, driven by a thread; thread-safe commands and read-only views."""

    def __init__(self, opts: ServeOptions):
        self.outputs = Outputs(opts)   # locked and checked first: refused before the model loads
        try:
            self._setup(opts)
        except BaseException:
            self.outputs.release()
            raise

    def _setup(self, opts: ServeOptions) -> None:
        self._policy, self.opts, self.latest = opts.reconnect_policy(), opts, LatestFrame()
        self.device = resolve_device(opts.device, opts.artifact)
        self.tracker = build_tracker(opts.artifact, opts.config, self.device, opts.pre, opts.threads,
                                     trust=opts.trust_checkpoint, ext=opts.ext, options=True)
        apply_late_torch(opts.threads, None)   # the embedded graph's torch fallback; dt serve keeps its counts
        self._commands = Mailbox()
        self.command_timeout = COMMAND_TIMEOUT_S   # a command not applied by then is dropped and answers 503
        self._lock, self._io = threading.Lock(), threading.Lock()   # _io guards _reading / _taken_over
        self._reading = self._taken_over = False  # waiting on the source; stop() closed the outputs meanwhile
        self._stop, self._ready = threading.Event(), threading.Event()
        self._listeners: list[Callable[[dict], None]] = []
        self._targets: list[Target] = []          # in the tracker's order
        self._next_id, self._frames_done = 0, 0
        self._frame: sources.Frame | None = None
        self._finished = True                     # the current frame's record was written
        self._unread: list[sources.Frame] = []    # damaged frames written since (the current frame stays on view)
        self.outputs.open()
        self.live_stats = LiveStats()
        self.frames_written = 0                   # frames whose record reached every output
        self.reader_gone = False                  # the reader of --jsonl - closed the pipe: tracking stopped
        self.on_reader_gone: Callable[[], None] | None = None   # called then (from the tracking thread)
        self.signal: int | None = None            # the signal that stopped dt serve (SIGINT, SIGTERM, SIGHUP)
        self.state, self.error = "starting", None
        self.output_full = False                  # an output found no room: tracking stopped, the files kept whole
        self.on_stopped: Callable[[str], None] | None = None   # told why, when tracking stops on an error
        self.source_name, self.live = masked(opts.source), False
        self._thread = threading.Thread(target=self._run, name="dt-serve-tracking", daemon=True)
        self._source, self._frames = None, None

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Open the source and read its first frame in the tracking thread; fail if that takes too long."""
        self._thread.start()
        if not self._ready.wait(self.opts.connect_timeout):
            self._stop.set()
            raise SourceTimeout(f"{self.source_name} delivered no frame within {self.opts.connect_timeout:g} s; "
                              "check the device/URL, or raise --connect-timeout")
        if self.error is not None and self.state == "failed":
            raise self._open_error

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread: the current frame's record is written and every output closed, here if the thread
        waits on a source that delivers nothing (a hung stream: it would never see the stop)."""
        self._stop.set()
        if self._thread.is_alive() and not self._ready.is_set():   # blocked opening the source (--connect-timeout)
            with self._io:   # it opens and writes nothing from now on: its files are closed (empty: removed) here
                self._taken_over = True
            self.outputs.close()
            return self.outputs.release()
        if self._thread.is_alive() and self._ready.is_set():   # not a thread still blocked opening the source
            self._thread.join(STALL_S)
            with self._io:   # the thread writes nothing more once it is back from the source
                self._taken_over = self._thread.is_alive() and self._reading
            if self._taken_over:
                self._close_outputs()
            else:
                self._thread.join(timeout)
        if not self._thread.is_alive():   # never started, or done: its outputs are closed (else the OS unlocks)
            if self._thread.ident is None:   # a signal as the server came up: its files closed here (empty: removed)
                self.outputs.close()
            self.outputs.release()

    def _open(self) -> None:
        o = self.opts
        self._source = sources.open_source(o.source, o.width, o.height, o.fps, self._policy)
        self._source.keep_missing = True   # a file's damaged frame keeps its line in every output
        self.source_name = self._source.name
        self._frames = iter(self._source)
        first = next(self._frames, None)
        if first is None:
            raise SourceError(f"{self._source.name} has no frames")
        warn_at_start(self._source, self.tracker, o.lost_threshold, o.ext)   # as dt run: pixel aspect, settings
        self.live = bool(getattr(self._source, "live", False))
        if self.live and not o.every_frame:   # the newest frame each time: a busy tracker skips stale ones
            self._frames = readers.newest(self._frames)
        pace = (not self.live) if o.pace is None else o.pace
        self._period = 1.0 / (self._source.fps or 30.0) if pace else 0.0
        with self._io:   # stop() may have given up on this opener and closed the outputs: open nothing more
            if self._taken_over:
                raise SourceError(f"{self._source.name} opened after dt serve stopped waiting for it")
            self.outputs.open_video(self._source.fps, timed=not self.live)
        self._frame, self._finished, self._frames_done = first, False, 1
        self.state = "running" if self.live else "waiting"   # files wait on their first frame for a target
        self._publish()

    def _run(self) -> None:
        try:
            self._open()
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            self._open_error = exc if isinstance(exc, DropTrackError) else SourceError(
                f"{self.source_name} could not be opened: {type(exc).__name__}: {exc}")
            self.state, self.error = "failed", str(exc)
            self._ready.set()
            self._shutdown()
            return
        self._ready.set()
        try:
            self._loop()
        except ReaderGone:   # `| head` read enough: the frame it refused is in no output (the jsonl sink is first)
            self._reader_left()
        except Exception as exc:  # noqa: BLE001 - the page shows it; the server stays up
            self._failed(exc)
        finally:
            self._shutdown()
            if self.error is not None and self.on_stopped is not None:   # the log learns it now, not at Ctrl-C
                self.on_stopped(self.error)

    def _failed(self, exc: Exception) -> None:
        """Tracking stopped on `exc` (the first error is the one shown); a full disk's streamed files were cut back
        to whole lines, and dt serve exits 2 once stopped, as dt run after a full disk."""
        self.output_full = self.output_full or isinstance(exc, OutputFull)
        if self.error is None:
            self.error = str(exc) if isinstance(exc, DropTrackError) else f"{type(exc).__name__}: {exc}"

    def _read(self) -> sources.Frame | None:
        """The source's next frame; None at its end, or when stop() closed the outputs while this waited."""
        with self._io:
            self._reading = True
        frame = next(self._frames, None)
        with self._io:
            self._reading = False
            return None if self._taken_over else frame

    def _shutdown(self) -> None:
        if not self._taken_over:   # else stop() closed the outputs while this thread waited on the source
            self._close_outputs()
        close = getattr(self._frames, "close", None)
        if close is not None:   # stop a background reader before the source goes
            close()
        if self._source is not None:
            self._source.close()

    def _close_outputs(self) -> None:
        """Write the held frame's record and close every output; state 'ended' (unless failed)."""
        try:
            self._finish_frame()   # the frame held last (paused, or the stop came): it may find the disk full now
        except ReaderGone:
            self._reader_left()
        except Exception as exc:  # noqa: BLE001 - logged by _run as one line, never a thread's traceback
            self._failed(exc)
        finally:
            errors = self.outputs.close(full=self.output_full)   # an earlier result is not replaced by a cut one
            full = next((e for e in errors if isinstance(e, OutputFull)), None)
            if errors:   # a full disk found only at close (fsync, the video's index) is a full disk too
                self._failed(full or DropTrackError(f"closing the outputs failed: {errors[0]}"))
            if self.output_full and self.error is not None:   # where the new outputs are, the earlier ones kept
                self.error += self.outputs.unfinished_note()
            with self._lock:   # 'ended' once the outputs are complete: a client that sees it may read them
                if self.state != "failed":
                    self.state = "ended"
            self._commands.refuse_pending(lambda: CommandError(409, self._ended_message()))   # queued meanwhile
            self.outputs.release()   # every output is closed: another run may write them now

    def _reader_left(self) -> None:
        """The reader of --jsonl - went away: tracking stops (as dt run does); `on_reader_gone` ends the server."""
        self.reader_gone = True
        if self.on_reader_gone is not None:
            self.on_reader_gone()

    def _ended_message(self) -> str:
        return ended_message(self.output_full, self.error, self.live, self._policy.enabled)

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        due = None
        while not self._stop.is_set():
            self._apply_commands(block=self.state in ("paused", "waiting"))
            if self.state in ("paused", "waiting"):
                due = None
                continue
            if self.opts.max_frames is not None and self._frames_done >= self.opts.max_frames:
                return
            if self._period:
                now = time.perf_counter()
                due = now if due is None or due < now - self._period else due
                while not self._stop.is_set() and self.state == "running" and (left := due - now) > 0:
                    self._apply_commands(block=True, timeout=min(left, 0.05))   # commands wait for no frame
                    now = time.perf_counter()
                if self._stop.is_set() or self.state != "running":   # stopped or paused while waiting
                    continue
                due += self._period
            t0 = time.perf_counter()
            frame = self._read()
            t1 = time.perf_counter()
            if frame is None:
                return
            if frame.image is None:
                self._unreadable(frame)
                continue
            output_ms = self._finish_frame()
            times = {"capture": (t1 - t0) * 1e3, "pre": 0.0, "infer": 0.0, "post": 0.0, "output": output_ms}
            # only this thread changes the tracker and the target list, so readers wait for the update, not
            # for the inference
            results, stage_ms = self.tracker.track_timed(frame.image) if self._targets else ([], {})
            check_finite(results, frame)   # as dt run: a broken model stops, its NaN boxes are never written
            times.update(stage_ms)
            with self._lock:
                target_list.tracked(self._targets, results, self.opts.lost_threshold)
                self._frame, self._finished, self._unread = frame, False, []
                self._frames_done += 1
            self.live_stats.add(times)
            self._publish()

    def _finish_frame(self) -> float:
        """Write the current frame's record to the sinks and listeners (once); returns the time it took (ms)."""
        t0 = time.perf_counter()
        with self._lock:
            if self._finished or self._frame is None:
                return 0.0
            self._finished = True
            frame, states = self._frame, [t.state() for t in self._targets]
        self._emit(frame, states, self.live_stats.fps())
        return (time.perf_counter() - t0) * 1e3

    def _unreadable(self, frame) -> None:
        """A frame of a file that could not be decoded: after the held frame's record, its own (no boxes,
        `unreadable`); the held frame stays on view, the targets wait for the next frame."""
        self._finish_frame()
        with self._lock:
            states = target_list.unreadable(self._targets)
            self._frames_done += 1
            self._unread.append(frame)
        self._emit(frame, states, None)

    def _emit(self, frame: sources.Frame, states: list, fps: float | None) -> None:
        """One frame's record to every output, then to the record listeners."""
        self.outputs.write(frame, states, fps)
        self.frames_written += 1
        rec = frame_record(frame, states)
        for fn in list(self._listeners):
            fn(rec)

    def _publish(self) -> None:
        with self._lock:
            frame, states = self._frame, [t.state() for t in self._targets]
        self.latest.publish(frame.index, frame.image, states, self.live_stats.fps())

    # ------------------------------------------------------------------ commands
    def _apply_commands(self, block: bool, timeout: float = 0.05) -> None:
        if self._commands.run_pending(block, timeout):
            self._publish()

    def _submit(self, fn: Callable[[], object]) -> object:
        with self._lock:   # not queued once the thread ended (it refuses what was queued before)
            if self.state in ("ended", "failed"):
                raise CommandError(409, self._ended_message())
            fut = self._commands.post(fn)
        return answer(fut, self.command_timeout)

    def _init_box(self, box: list[float], replace: int | None = None) -> Target:
        frame = self._frame
        with self._lock:
            try:
                if replace is not None:
                    t = target_list.reselect(self.tracker, self._targets, replace, box, frame)
                else:
                    t = target_list.start(self.tracker, self.outputs, len(self._targets), self.opts.max_targets,
                                          self._next_id, box, frame)
                    self._next_id += 1
                    sink = self.outputs.box_sinks.get(t.id)   # None without --output
                    # drawn on a frame whose record is out (damaged frames came after it)
                    if sink is not None and self._finished:
                        catch_up(sink, self._frame, self._unread, t.state())
            except InputError as exc:
                raise CommandError(422, str(exc)) from None
            t.reacq = (self.tracker.reacq_flags() or [None])[-1]   # a new template: not wide; None: re-acquisition off
            self._targets.append(t)
            if self.state == "waiting":
                self.state = "running"
            return t

    def add_target(self, box: list[float]) -> dict:
        """Start a target on the frame the thread holds; 422 for a bad box, 409 over --max-targets."""
        return self._submit(lambda: drawn(self._init_box(box), box, self._frame.image, self._frame.index))

    def reselect_target(self, target_id: int, box: list[float]) -> dict:
        """Re-initialise target `target_id` from a new box on the current frame (its id stays)."""
        return self._submit(lambda: drawn(self._init_box(box, target_id), box, self._frame.image, self._frame.index))

    def remove_target(self, target_id: int) -> dict:
        """Stop tracking a target (its box file, if any, ends with the frame before and is written at the end)."""
        def remove() -> dict:
            with self._lock:
                gone = target_list.remove(self.tracker, self._targets, target_id)
                self.outputs.stop_target(target_id)   # one descriptor per target ever drawn reached the limit
                return gone
        return self._submit(remove)

    def set_paused(self, paused: bool) -> dict:
        """Pause (hold the current frame; targets can still be drawn on it) or resume."""
        def apply() -> dict:
            with self._lock:
                self.state = paused_state(self.state, paused)
                return {"state": self.state}
        return self._submit(apply)

    # ------------------------------------------------------------------ views
    def listen(self, fn: Callable[[dict], None]) -> Callable[[], None]:
        """Call `fn(record)` from the tracking thread for every finished frame; returns the unsubscribe."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def box_files(self) -> list[str]:
        """The --output box files written so far, one per target that was tracked (boxes_<id>.txt), by id."""
        return self.outputs.box_files()

    def jsonl_file(self) -> str | None:
        """Where --jsonl is: its name, or NAME.part that a full disk left unfinished (`Outputs.keep_earlier`)."""
        return self.outputs.jsonl_file()

    def video_file(self) -> str | None:
        """Where --save is: its name, or the unfinished NAME.part.EXT a full disk left (not moved into place)."""
        return self.outputs.video_file()

    def targets(self) -> list[dict]:
        with self._lock:
            return [t.to_dict() for t in self._targets]

    def stats(self) -> dict:
        """State, frame, FPS, per-stage latency (mean / p99 over the last frames) and the targets."""
        stages = self.live_stats.stages()
        with self._lock:
            frame = self._frame
            out = {"state": self.state, "error": self.error, "source": self.source_name,
                   "frame": None if frame is None else frame.index, "frames": self._frames_done,
                   "size": None if frame is None else [int(frame.image.shape[1]), int(frame.image.shape[0])],
                   "backend": self.tracker.backend.name, "device": self.device,
                   "max_targets": self.opts.max_targets, "stages": stages,
                   "procedure": self.tracker.ext.describe(),   # dt run's summary says it too: extensions on or not
                   "targets": [t.to_dict() for t in self._targets]}
        fps = self.live_stats.fps()
        out["fps"] = None if fps is None else round(fps, 2)
        return out
