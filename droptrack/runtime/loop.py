"""The tracking loop: frames -> tracker (pre, infer, post) -> sinks, with per-stage timing.

Stages per tracked frame (ms): capture (next frame from the source, incl. decode and BGR->RGB), pre (crops,
normalisation, upload), infer (the backend call), post (window, decode, map-back, clip, boxes to host),
output (sinks: files, video, window) and total. On CUDA the tracker's `sync()` is called after each stage so
the times belong to their stage. Memory stays constant however long the source runs: the times go into
fixed-size `LatencyStats` (per-frame lists only with `record_times=True`, for benchmarks of a few hundred
frames). A `StopFlag` (set by SIGINT/SIGTERM/SIGHUP, see `signals`) ends the loop after the current frame;
a raw Ctrl-C ends it too, and so does a reader of `--jsonl -` that closed the pipe (as SIGPIPE). The sinks are
closed in `finally`; after a full disk (OutputFull: an output's write or the resume journal's) every sink keeps its
unfinished file (`Sink.keep_unfinished`), so no earlier result at an output's name is replaced by a cut one.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from droptrack.decodelog import DamageLog
from droptrack.errors import BackendError, OutputFull
from droptrack.geometry import clip_box
from droptrack.runtime.latency import LatencyStats
from droptrack.runtime.signals import SIGPIPE, StopFlag
from droptrack.runtime.sink_base import call_each, close_sinks
from droptrack.runtime.sinks import ReaderGone, Sink, TargetState
from droptrack.runtime.window import StopRequested
from droptrack.runtime.sources import Frame
from droptrack.runtime.track_result import LOST_THRESHOLD

STAGES = ("capture", "pre", "infer", "post", "output", "total")
DEFAULT_LOST_THRESHOLD = LOST_THRESHOLD   # the Python API's TrackResult.lost uses the same score
FPS_WINDOW = 30   # frames in the on-screen FPS


@dataclass
class RunSummary:
    """What a run did: frames seen, per-stage time statistics of the tracked frames, how it ended."""

    frames: int = 0
    stats: dict[str, LatencyStats] = field(default_factory=lambda: {s: LatencyStats() for s in STAGES})
    times_ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    init_ms: float = 0.0
    interrupted: bool = False
    signal: int | None = None   # the signal that stopped it (SIGPIPE: the reader of --jsonl - went away)
    stopped: bool = False
    num_targets: int = 0
    lost_count: int = 0
    resized: int = 0   # video frames letterboxed to the first frame's size
    left_out: int = 0   # frames of a passage faster than the --save video's rate, not in it (VideoSink)
    skipped: int = 0   # live frames dropped because the tracker was busy (readers.newest)
    procedure: str = "official procedure"   # the tracker settings (TrackerExt.describe)
    expected: int | None = None   # frames the run was to see (the header's count from the init frame, --max-frames)
    announced: int | None = None   # the header's count from the init frame on (--max-frames aside)
    source_fps: float | None = None   # a file source's frame rate (its header's)
    last_timestamp: float = math.nan   # the source time of the last decoded frame (seconds)
    last_index: int = -1   # that frame's index: a time jump counts only between neighbours
    first_timestamp: float = math.nan   # the source time of the init frame (seconds)
    resumed: int = 0   # frames a resumed run found already written (dt run --resume)
    start: int = 0   # the index of the init frame (dt run --start): a resumed run goes on at start + resumed
    retracked: int = 0   # frames the outputs held past the journal's word: cut off and tracked again (--resume)
    journal: object = None   # the resume journal left for an unfinished file run (its Path), else None
    unfinished: str = ""   # '; the new run's unfinished outputs stay in A.part (...)' (`run.unfinished_note`), or ''
    kept: dict = field(default_factory=dict)   # {final name: NAME.part} of the outputs the run left unfinished
    clashed: list = field(default_factory=list)   # final names another program wrote while the run wrote them
    removed: list = field(default_factory=list)   # an earlier run's files of --output's name that --overwrite removed
    left_video: str = ""   # what --resume did with the killed run's unfinished --save video (`video_leftover`)
    unreadable: list[int] = field(default_factory=list)   # indices of file frames that could not be decoded
    earlier_unreadable: list[int] = field(default_factory=list)   # those in the lines a --resume kept
    damaged: DamageLog = field(default_factory=DamageLog)   # file frames decoded despite damage (Frame.damage)
    first_size: tuple[int, int] | None = None   # (W, H) of the first frame
    other_sizes: int = 0   # frames of another size than the first (an image folder mixing sizes)
    other_example: tuple[int, int, int] | None = None   # the first of them: (index, W, H)
    time_gap: tuple[int, float] | None = None   # a file's largest jump in frame times with no frame failing between:
    #                                             (the index of the frame after it, seconds); `report.time_gap_note`

    def stage_stats(self) -> dict[str, dict[str, float]]:
        """{stage: {mean_ms, p99_ms}} over the tracked frames (the init frame excluded)."""
        return {s: {"mean_ms": v.mean, "p99_ms": v.percentile(99)} for s, v in self.stats.items()}

    @property
    def tracked(self) -> int:
        """Tracked frames (the init frame excluded)."""
        return self.stats["total"].count

    @property
    def fps(self) -> float:
        """Tracked frames per second of loop time (1000 / mean total)."""
        t = self.stats["total"]
        return 1000.0 * t.count / t.total if t.count and t.total > 0 else float("nan")

    @property
    def overhead(self) -> float:
        """Everything but inference as a fraction of inference time: (total - infer) / infer."""
        tot, inf = self.stats["total"].total, self.stats["infer"].total
        return (tot - inf) / inf if inf > 0 else float("nan")

    def to_dict(self) -> dict:
        """JSON-safe summary."""
        return {"frames": self.frames, "tracked_frames": self.tracked, "fps": self.fps, "overhead": self.overhead,
                "init_ms": self.init_ms, "interrupted": self.interrupted, "signal": self.signal,
                "lost_frames": self.lost_count, "stages": self.stage_stats()}


def _sync(tracker) -> None:
    sync = getattr(tracker, "sync", None)
    if sync is not None:
        sync()


def _emit(sinks: Sequence[Sink], frame: Frame, targets: list[TargetState], fps: float | None) -> bool:
    """Write the frame to every sink; True when one asked to stop (the window's q / Esc): the frame is in all of
    them, so the caller counts it before it stops."""
    asked = False
    for s in sinks:
        try:
            s.write(frame, targets, fps)
        except StopRequested:
            asked = True
    return asked


def _close_all(sinks: Sequence[Sink]) -> None:
    """Sync every sink, then close them (renamed onto their names): a full disk found at a sync or a close leaves
    them all unfinished (`close_sinks`), as one found mid-run does; raises the first failure, a full disk first."""
    errors = close_sinks(sinks, lambda: call_each(getattr(s, "keep_unfinished", lambda: None) for s in sinks))
    if errors:
        raise errors[0]


def _skip(it, frames: int) -> int:
    """Read past the frames a resumed run's outputs already hold (the first one was read): returns `frames`."""
    from droptrack.errors import InputError

    for done in range(1, frames):
        if next(it, None) is None:
            raise InputError(f"--resume: the source now ends after {done} frames, but the outputs already hold "
                             f"{frames}; drop --resume and pass --overwrite to start over")
    return frames


def check_finite(results, frame: Frame) -> None:
    """Non-finite model outputs stop the run (a broken model; never written out)."""
    for r in results:
        if not (math.isfinite(r.score) and all(math.isfinite(v) for v in r.box)):
            raise BackendError(f"the model returned a non-finite box or score (NaN/Inf) on frame {frame.index}; "
                               "the model file is broken: re-export it or use another checkpoint")


def _targets(results, frame: Frame, lost_threshold: float) -> list[TargetState]:
    """TargetStates of one frame (checked by `check_finite`)."""
    check_finite(results, frame)
    return [TargetState(r.box, r.score, r.score < lost_threshold, reacq=getattr(r, "reacq", None)) for r in results]


def _waiting(tracker, boxes: list[list[float]]) -> list[TargetState]:
    """TargetStates of a frame with no search (the init frame, an unreadable one): not lost, no score, and
    re-acquisition's state as the tracker holds it (`Tracker.reacq_flags`)."""
    flags = getattr(tracker, "reacq_flags", lambda: None)() or [None] * len(boxes)
    return [TargetState(b, None, False, reacq=f) for b, f in zip(boxes, flags)]


GAP_MIN_S = 1.0   # a jump in a file's frame times longer than this (and 10 frame periods: `report`) is named


def _note_gap(summary: RunSummary, frame: Frame) -> None:
    """Keep the largest jump of the frame times before a decoded frame that follows a decoded frame (a demuxer that
    skips a damaged MKV cluster fails no read: 78 frames went without a word, and every later index was off)."""
    before, now = summary.last_timestamp, frame.timestamp
    # not after an undecodable frame, nor across the frames a resumed run (--resume) passed over: the first frame it
    # tracks followed the init frame, and every resume named that jump as frames a damaged file lost
    if not (math.isfinite(before) and math.isfinite(now)) or frame.index != summary.last_index + 1:
        return
    gap = now - before
    if gap > GAP_MIN_S and (summary.time_gap is None or gap > summary.time_gap[1]):
        summary.time_gap = (frame.index, gap)


def _count_frame(summary: RunSummary, frame: Frame) -> None:
    """Count a file frame that decoded despite damage, or whose size is not the first frame's (a note at the end
    names them)."""
    damage = getattr(frame, "damage", None)
    if damage:
        summary.damaged.add(damage[0], [damage[1]])
    if frame.image is None:
        return
    size = (int(frame.image.shape[1]), int(frame.image.shape[0]))
    if summary.first_size is None:
        summary.first_size = size
    elif size != summary.first_size:
        summary.other_sizes += 1
        summary.other_example = summary.other_example or (frame.index, *size)


def track_frames(frames: Iterable[Frame], tracker, init_boxes: list | Callable[[Frame], list],
                 sinks: Sequence[Sink] = (), max_frames: int | None = None,
                 lost_threshold: float = DEFAULT_LOST_THRESHOLD,
                 on_frame: Callable[[RunSummary], None] | None = None, stop: StopFlag | None = None,
                 record_times: bool = False, resume=None,
                 checkpoint: Callable[[int], None] | None = None, skip: bool = True,
                 keep_cut: bool = False) -> RunSummary:
    """Initialise on the first frame, track the rest, write every frame to the sinks.

    Args:
        frames: the source (Frame iterable).
        tracker: a `Tracker` or `DeviceTracker` (preprocess / backend.infer / postprocess).
        init_boxes: x,y,w,h boxes, or a function of the first frame returning them (interactive selection).
        sinks: outputs; all are closed at the end, also on errors, signals and Ctrl-C.
        max_frames: stop after this many frames (the init frame included).
        lost_threshold: a target whose score is below it is flagged lost (its box is still reported).
        on_frame: called after every frame (progress).
        stop: checked after every frame; once set (by a signal handler) the loop ends cleanly.
        record_times: also keep every frame's stage times in `times_ms` (bounded benchmarks only).
        resume: a `runtime.resume_point.ResumePoint`: initialise on the first frame, restore its state, skip the frames
            the outputs already hold (nothing is written for them), then track on.
        checkpoint: called with the number of frames written after every frame's outputs (the resume journal).
        skip: with `resume`, whether the frames after the first are still to be read past (False: a seek already
            left the source on the frame after those the outputs hold).
        keep_cut: a run that ends before its source does (a signal, q / Esc, a closed pipe, an error) leaves every
            output unfinished (`Sink.keep_unfinished`), as a full disk does: dt run over a file source whose outputs
            would replace an earlier run's complete files (--overwrite).
    """
    summary = RunSummary()
    it = iter(frames)
    stats, recent = summary.stats, deque(maxlen=FPS_WINDOW)
    stop = stop or StopFlag()
    stop.armed = True   # a signal now finishes the current frame (see signals)
    ended = False   # the source ended, or --max-frames was reached: the outputs are the whole run
    try:
        t0 = time.perf_counter()
        first = next(it, None)
        if first is None:
            ended = True
            return summary
        boxes = init_boxes(first) if callable(init_boxes) else init_boxes
        tracker.initialize_many(first.image, boxes)
        _sync(tracker)
        summary.init_ms = (time.perf_counter() - t0) * 1000.0
        summary.num_targets = len(tracker.states)
        summary.last_timestamp = summary.first_timestamp = first.timestamp
        summary.last_index = first.index
        _count_frame(summary, first)
        if resume is not None:
            tracker.restore(resume.snapshot, resume.templates, resume.template_version)
            summary.frames = _skip(it, resume.frames) if skip else resume.frames
        else:
            H, W = first.image.shape[:2]   # the init box as reported: its part inside the frame (the tracker keeps it)
            asked = _emit(sinks, first, _waiting(tracker, [clip_box(list(map(float, b)), H, W, margin=0)
                                                           for b in tracker.states]), None)
            summary.frames = 1
            if checkpoint:
                checkpoint(summary.frames)
            if asked:
                raise StopRequested
        if on_frame:
            on_frame(summary)
        while (max_frames is None or summary.frames < max_frames) and not stop.is_set:
            t0 = time.perf_counter()
            frame = next(it, None)
            if frame is None:
                break
            _count_frame(summary, frame)
            if frame.image is None:   # a damaged frame of a file: no box in any output, the tracker waits
                asked = _emit(sinks, frame, _waiting(tracker, [[math.nan] * 4 for _ in tracker.states]), None)
                summary.unreadable.append(frame.index)
                summary.frames += 1
                if checkpoint:
                    checkpoint(summary.frames)
                if on_frame:
                    on_frame(summary)
                if asked:
                    raise StopRequested
                continue
            t1 = time.perf_counter()
            search, aux = tracker.preprocess(frame.image)
            _sync(tracker)
            t2 = time.perf_counter()
            out = tracker.infer(search)
            _sync(tracker)
            t3 = time.perf_counter()
            results = tracker.postprocess(out, aux, frame.image.shape[:2])
            t4 = time.perf_counter()
            targets = _targets(results, frame, lost_threshold)
            fps = 1000.0 * len(recent) / sum(recent) if recent else None
            asked = _emit(sinks, frame, targets, fps)
            t5 = time.perf_counter()
            for name, a, b in (("capture", t0, t1), ("pre", t1, t2), ("infer", t2, t3), ("post", t3, t4),
                               ("output", t4, t5), ("total", t0, t5)):
                stats[name].add((b - a) * 1000.0)
                if record_times:
                    summary.times_ms[name].append((b - a) * 1000.0)
            recent.append((t5 - t0) * 1000.0)
            summary.lost_count += any(t.lost for t in targets)
            _note_gap(summary, frame)
            summary.last_timestamp, summary.last_index = frame.timestamp, frame.index
            summary.skipped += getattr(frame, "skipped", 0)
            summary.frames += 1
            if checkpoint:
                checkpoint(summary.frames)
            if on_frame:
                on_frame(summary)
            if asked:
                raise StopRequested
        ended = True
    except KeyboardInterrupt as exc:   # a SIGTERM / SIGHUP raised as one (droptrack.signals.Stopped) keeps its number
        summary.interrupted, summary.signal = True, getattr(exc, "signum", None)
    except ReaderGone:   # `| head` read enough: the frame that did not reach it is in no output (jsonl sink first)
        summary.interrupted, summary.signal = True, SIGPIPE
    except StopRequested:
        summary.stopped = True
    except OutputFull:   # no output is moved into place: an earlier run's complete file stays under its name
        for s in sinks:
            s.keep_unfinished()
        raise
    finally:
        stop.closing = True   # from here a signal no longer interrupts: every output is closed whole
        if keep_cut and (not ended or stop.is_set):   # an earlier complete file is not replaced by a cut one
            for s in sinks:
                s.keep_unfinished()
        close = getattr(it, "close", None)
        _close_all(sinks)
        if close is not None:
            close()
    if stop.is_set:
        summary.interrupted, summary.signal = True, stop.signum
    return summary
