"""`dt run` as a library function: open the source, load the artifact, resolve the targets, loop, summarise (the
tracker it builds: `runtime.build`; what it says at the end: `runtime.report`)."""

from __future__ import annotations

import itertools
import os
import warnings
from contextlib import closing, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from droptrack import filelock
from droptrack.engine.threads import apply_late_torch, apply_threads, plan_threads, restore_threads
from droptrack.errors import (CornerBoxWarning, DropTrackError, EdgeBoxWarning, FlatTargetWarning, InputError,
                              OffTargetGraphWarning, OutputFull, SourceError)
from droptrack.geometry import check_box_size, parse_box, sample_target, validate_init_box
from droptrack.paths import check_not_finished, check_not_in_results, masked, writes_in_place
from droptrack.runtime import outlock, readers, resume, resume_point, sources, video_leftover
from droptrack.runtime.build import build_tracker, needs_torch, pre_used, resolve_device
from droptrack.runtime.checks import (check_not_folders, check_output_names, check_source_options, check_start,
                                       check_tracking_options, corner_box_note, flat_target_note,
                                       ground_truth_init, off_target_graph_note)
from droptrack.runtime.loop import DEFAULT_LOST_THRESHOLD, RunSummary, track_frames
from droptrack.runtime.earlier_runs import earlier_targets, remove_earlier
from droptrack.runtime.looping import LoopedSource
from droptrack.runtime.reconnect import ReconnectPolicy
from droptrack.runtime.report import (ended_early_note, ground_truth_note, size_note, summary_line, summary_table,
                                      time_gap_note, unreadable_note)
from droptrack.runtime.signals import StopFlag, graceful_signals
from droptrack.runtime.source_base import FirstFrameDamaged
from droptrack.runtime.start_notes import edge_box_note, warn_at_start
from droptrack.runtime.resume_unreadable import earlier_unreadable
from droptrack.runtime.sinks import BoxFileSink, JsonlSink, VideoSink, box_paths, part_path
from droptrack.runtime.window import WindowSink, display_problem, select_targets
from droptrack.textfiles import holds_box_rows

# dt run's names, those made in build.py and report.py included (importable from here as before)
__all__ = ["build_tracker", "check_options", "ended_early_note", "ground_truth_note", "parse_box", "resolve_device",
           "resume_advice", "run", "RunOptions", "size_note", "summary_line", "summary_table", "time_gap_note",
           "unreadable_note"]


@dataclass
class RunOptions:
    """Everything `dt run` accepts (see the CLI help)."""

    source: str
    artifact: str | None = None
    config: str | None = None
    init: list[str] = field(default_factory=list)
    show: bool = False
    save: str | None = None
    output: str | None = None
    jsonl: str | None = None
    device: str | None = None
    max_frames: int | None = None
    lost_threshold: float = DEFAULT_LOST_THRESHOLD
    pre: str = "auto"
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    loop: bool = False
    trust_checkpoint: bool = False
    reconnect: int = 0
    reconnect_timeout: float | None = None
    threads: int | None = None
    ext: dict = field(default_factory=dict)   # tracker-extension overrides, TEST-style keys (runtime/extensions)
    every_frame: bool = False   # live sources: track every frame in order (queued) instead of the newest one
    overwrite: bool = False     # replace output files that already hold data (else refused before any work)
    resume: bool = False        # continue a killed or interrupted run's --output / --jsonl (runtime.resume)
    start: int = 0              # video files / image folders: the frame the targets are set on (those before: skipped)


def _first_frame_boxes(frame, boxes: list[list[float]], meta) -> list[list[float]]:
    """Validate the boxes on the first frame (before any output file is created)."""
    h, w = frame.image.shape[:2]
    if min(h, w) < 2:   # sample_target's crop ends before the last row/column it reaches: none is left of 1
        raise InputError(f"frame {frame.index} is {w}x{h} pixels: the tracker's crops (as the official sample_target) "
                         "leave out a frame's last row and column, so frames need at least 2 pixels each way; scale "
                         "the source up, e.g. `ffmpeg -i IN -vf scale=iw*2:ih*2 -c:v mpeg4 -q:v 2 OUT.mp4`")
    checked = [validate_init_box(b, frame.image.shape[:2]) for b in boxes]
    for b in checked:
        check_box_size(b, f"init box {b}")
        sample_target(frame.image, b, meta.template_factor, 1)   # raises for crops outside the image
    return checked


def check_options(opts: RunOptions, num_targets: int) -> None:
    """Numbers in range and every output path usable (and none of them an input) before any frame is read (the
    checks dt serve makes too, in the same order: `checks.check_tracking_options`)."""
    check_not_folders(opts)
    jsonl = [opts.jsonl] if opts.jsonl and opts.jsonl != "-" else []
    streamed = resume.streamed_outputs(opts.jsonl, opts.output, num_targets)   # the journal is the first one's
    kind = sources.source_kind(opts.source)
    journaled = bool(streamed) and not opts.loop and kind in ("video", "folder")
    first = "--jsonl" if jsonl and streamed and streamed[0] == Path(opts.jsonl) else "--output"
    named = {"--jsonl": jsonl, "--output": _box_outputs(opts.output, num_targets),
             "--save": [opts.save] if opts.save else []}
    check_output_names(named, first if journaled else None)
    check_not_in_results(named)
    resume.check_not_journal(opts.jsonl, opts.output, opts.save, num_targets)
    resume.check_journal_path(resume.journal_path(resume.streamed_outputs(opts.jsonl, opts.output, num_targets)))
    check_start(opts.start, opts.source, opts.loop)
    check_source_options(opts.source, opts.loop, opts.reconnect, opts.reconnect_timeout, opts.every_frame)
    if opts.resume:
        if opts.overwrite:
            raise InputError("--resume continues the outputs that --overwrite would replace; pass one of them")
        if opts.save:
            raise InputError("--resume cannot continue a video (a killed run's is unfinished); drop --save, or "
                             "start over with --overwrite")
        if not (opts.output or (opts.jsonl and opts.jsonl != "-")):
            raise InputError("--resume continues the --output / --jsonl files of a killed run; pass them as before")
        if kind == "missing" and not opts.loop:
            raise sources.missing_source(opts.source)
        if opts.loop or kind not in ("video", "folder"):
            what = "--loop replays it without end" if opts.loop else f"'{masked(opts.source)}' is a {kind}"
            raise InputError(f"--resume continues a run over a video file or image folder; {what}: drop --resume")
    elif not opts.overwrite:   # an interrupted run's files: say how to continue them
        outputs = resume.streamed_outputs(opts.jsonl, opts.output, num_targets)
        journal = resume.journal_path(outputs)
        busy = next((o for o in outputs if filelock.in_use(outlock.lock_path(o))), None)
        if busy is not None:   # a running writer's files are no killed run's to continue
            raise InputError(outlock.busy_message(Path(busy)))
        if resume.unfinished(journal, outputs):
            raise InputError(f"the outputs hold an unfinished run (its journal {journal}): continue it with "
                             f"{resume_advice(opts.save)}, or pass --overwrite to start over")
    check_tracking_options(opts, _box_outputs(opts.output, num_targets), opts.trust_checkpoint)
    if kind == "missing":   # before _run asks for a display: a typo is not a missing GUI
        raise sources.missing_source(opts.source)


def resume_advice(save: str | None, overwrite: bool = False) -> str:
    """How an interrupted run goes on, for its messages: the same command plus --resume (in place of --overwrite,
    which --resume refuses, where it had it), and without --save when it had one (a video cannot be continued, so the
    command as it was is refused)."""
    how = "the same command with --resume in place of --overwrite" if overwrite else "the same command and --resume"
    return how + (" but without --save (a video cannot be continued)" if save else "")


def _box_outputs(output: str | None, num_targets: int) -> list:
    """The box files of --output; 'out/' or an existing folder is kept as given, so that it is refused as a folder
    (not written as 'out', or, with several targets, as 'out_0', 'out_1' beside it)."""
    if not output:
        return []
    folder = output.endswith(("/", os.sep)) or os.path.isdir(os.path.expanduser(output))
    return [output] if folder else box_paths(output, max(1, num_targets))


def unfinished_note(sinks: list) -> str:
    """Where a run a full disk stopped left its outputs: '; the new run's unfinished outputs stay in A.part, ...'
    and the earlier results at their names, kept as they were ('' where it left none)."""
    clashed = {path for s in sinks for path in s.clashes()}   # complete: named in their own warning
    left = [u for s in sinks for u in s.unfinished() if u[1] not in clashed]
    if not left:
        return ""
    earlier = [str(final) for _, final in left if final.exists()]
    was = "it was" if len(earlier) == 1 else "they were"
    kept = f" (the earlier {', '.join(earlier)} kept as {was})" if earlier else ""
    return f"; the new run's unfinished outputs stay in {', '.join(str(part) for part, _ in left)}{kept}"


def _resume_hint(journal, opts: RunOptions) -> str:
    """'; continue with the same command and --resume' where the run left a journal, else ''."""
    done = journal is None or not journal.path.exists()
    return "" if done else f"; continue with {resume_advice(opts.save, opts.overwrite)}"


def streamed_files(sinks: list) -> list:
    """The StreamFiles of --jsonl and --output in `resume.streamed_outputs` order (stdout and devices left out)."""
    files = [f for s in sinks for f in ([s.out] if isinstance(s, JsonlSink) else getattr(s, "files", []))]
    return [f for f in files if f is not None and f.part != f.path]


def _open_source(opts: RunOptions, policy: ReconnectPolicy) -> sources.Source:
    """The source of `opts`; with --loop a video file or folder that starts over at its end."""
    def once() -> sources.Source:
        src = sources.open_source(opts.source, opts.width, opts.height, opts.fps, policy, start=opts.start)
        src.keep_missing = True   # a damaged frame keeps its line in every output (`unreadable_note`)
        return src

    return LoopedSource(once) if opts.loop else once()


def run(opts: RunOptions, on_start: Callable[[int | None], None] | None = None,
        on_frame: Callable[[RunSummary], None] | None = None) -> RunSummary:
    """Track the targets of `opts` through the source; returns the summary (outputs are written and closed).

    SIGINT, SIGTERM and SIGHUP end the run after the current frame (outputs complete; `summary.signal` says
    which), or at once before the first frame (a source still connecting: `summary.frames` 0, nothing written);
    see `droptrack.runtime.signals`.
    """
    stop = StopFlag()
    try:   # outside the block: a signal held since dt run started raises as the handlers go in
        with graceful_signals(stop):
            return _run(opts, stop, on_start, on_frame)
    except KeyboardInterrupt:
        if not stop.is_set:   # not one of our signals (no handler outside the main thread)
            raise
        return RunSummary(interrupted=True, signal=stop.signum)


def _run(opts: RunOptions, stop: StopFlag, on_start, on_frame) -> RunSummary:
    boxes = [parse_box(t) for t in opts.init]
    check_options(opts, len(boxes))
    policy = ReconnectPolicy(opts.reconnect, opts.reconnect_timeout)
    threads = plan_threads(opts.threads, opts.artifact).threads
    if opts.show or not boxes:
        problem = display_problem()
        if problem and opts.show:
            raise InputError(f"--show needs a display: {problem}; or drop --show and use --save out.mp4")
        if problem:   # a dataset's sequence: its ground truth has the box
            known = ground_truth_init(opts.source, opts.start)
            given = f" (its ground truth's box on frame {opts.start}: {known})" if known else ""
            raise InputError(f"no --init box and no display for interactive selection ({problem}); "
                             f"pass --init x,y,w,h (repeatable){given}")
    device = resolve_device(opts.device, opts.artifact)
    with ExitStack() as stack:
        torch_too = needs_torch(opts.artifact, device, opts.config, opts.pre)
        old_threads = apply_threads(threads, torch_too=torch_too)
        stack.callback(restore_threads, old_threads)
        src = stack.enter_context(readers.opened_in_thread(lambda: _open_source(opts, policy)))
        tracker = build_tracker(opts.artifact, opts.config, device, opts.pre, threads, trust=opts.trust_checkpoint,
                                ext=opts.ext, options=True)
        late = apply_late_torch(threads, old_threads)   # the embedded graph's torch fallback: restored at the end
        if late is not None:
            stack.callback(restore_threads, late)
        if getattr(src, "live", False):   # live: the newest frame (stale ones skipped), or all in order (--every-frame)
            frames = (readers.queued if opts.every_frame else readers.newest)(src, stopped=lambda: stop.is_set)
        else:
            frames = readers.prefetch(src)   # files: decode ahead
        stack.callback(getattr(frames, "close", lambda: None))   # stop the decode thread before closing src
        try:
            first = readers.first_at(frames, opts.start, src.name)
        except FirstFrameDamaged as exc:   # --start skips it and keeps the file's frame numbers
            if exc.readable is None or opts.loop:
                raise
            raise SourceError(f"{exc}; or pass --start {exc.readable} to set the targets on frame {exc.readable}, the "
                              "first that decodes (the outputs keep the file's frame numbers)") from None
        if first is None:
            raise InputError(f"{src.name} has no frames")
        boxes = _first_frame_boxes(first, boxes or select_targets(first.image), tracker.meta)
        if opts.output and len(boxes) != max(1, len(opts.init)):
            check_options(opts, len(boxes))   # interactive selection: NAME_<k>.txt paths
        outputs = resume.streamed_outputs(opts.jsonl, opts.output, len(boxes))
        video = [Path(opts.save)] if opts.save and not writes_in_place(opts.save) else []
        stack.enter_context(outlock.locked(outputs + video))   # a second run onto these files is refused
        if not (opts.overwrite or opts.resume):   # again under the lock: a run onto these files that ended after
            check_not_finished({"--output": box_paths(opts.output, len(boxes)) if opts.output else [],   # our checks
                                "--jsonl": [opts.jsonl] if opts.jsonl and opts.jsonl != "-" else [],
                                "--save": [opts.save] if opts.save else []})
        resumable = bool(outputs) and not getattr(src, "live", False) and not opts.loop   # a file source: journaled
        compute = {"device": "cuda:0" if device == "cuda" else device, "pre": pre_used(tracker),
                   **({"threads": threads} if device == "cpu" else {}),   # CPU boxes differ in the last bits too
                   "engine": tracker.backend.name}   # the built-in model: ONNX Runtime's graph or torch's checkpoint
        ident = resume.identity(opts, boxes, tracker, outputs, compute) if resumable or opts.resume else {}   # hashes
        point, retracked, earlier_bad = None, 0, []
        if opts.resume:   # a journal an earlier droptrack wrote is checked as it was written
            legacy = resume.legacy_identity(opts, boxes, tracker, outputs)
            point = resume_point.load(resume.journal_path(outputs), ident, legacy)
        if point is not None:
            if opts.max_frames is not None and opts.max_frames < point.frames:
                raise InputError(f"--resume: the outputs already hold {point.frames} frames, more than --max-frames "
                                 f"{opts.max_frames}; pass --max-frames {point.frames} or more (or drop it) to "
                                 f"continue, or {resume.START_OVER}")
            retracked = resume_point.cut_outputs(outputs, point.frames, point.sizes) - point.frames
            earlier_bad = earlier_unreadable(part_path(outputs[0]), outputs[0] == Path(opts.jsonl or ""),
                                             first.index)   # the killed run's undecodable frames: in the end note
        ahead = point and readers.seek_ahead(src, first.index, point.frames)
        if ahead:   # a seek past the frames the outputs hold: the reader before it stops first
            frames.close()
            frames = stack.enter_context(closing(readers.prefetch(stack.enter_context(ahead))))
        lines = None if point is None else point.frames
        stale = earlier_targets(opts.output, len(boxes)) if opts.overwrite and opts.output else []   # removed at end
        if point is not None:   # a cut --overwrite run resumed: those its journal names, as they were not removed
            stale = [p for p in map(Path, point.replaces) if holds_box_rows(p) and not outlock.writer_alive(p)]
        # a file run that ends before its source does leaves its lines in NAME.part where NAME holds an earlier
        # complete result (--overwrite; a killed --overwrite run resumed): that result is not replaced by a cut one
        keep_cut = not getattr(src, "live", False) and not opts.loop and resume.holds_earlier(outputs + video + stale)
        sinks = []
        try:
            if opts.jsonl:   # first: a frame whose line a closed pipe refused goes to no other output
                sinks.append(JsonlSink(opts.jsonl, lines))
            if opts.output:
                sinks.append(BoxFileSink(opts.output, len(boxes), lines))
            if opts.save:
                sinks.append(VideoSink(opts.save, src.fps, timed=not getattr(src, "live", False)))
            if opts.show:
                sinks.append(WindowSink())
        except BaseException:
            for s in sinks:
                s.close()
            raise
        # said once every check passed: an error stays the only line
        warn_at_start(src, tracker, opts.lost_threshold, opts.ext)
        flat = flat_target_note(first.image, boxes, first.index)
        if flat:
            warnings.warn(flat, FlatTargetWarning, stacklevel=2)
        corners = corner_box_note(boxes, first.image.shape[:2])
        if corners:
            warnings.warn(corners, CornerBoxWarning, stacklevel=2)
        told = opts.init and (opts.output or opts.jsonl)   # box files and JSON lines report frame 0's box
        edge = edge_box_note(boxes, first.image.shape[:2]) if told and not corners else None
        if edge:
            warnings.warn(edge, EdgeBoxWarning, stacklevel=2)
        off_target = off_target_graph_note(opts.artifact, tracker.meta, device)
        if off_target:
            warnings.warn(off_target, OffTargetGraphWarning, stacklevel=2)
        count = src.num_frames and max(1, src.num_frames - opts.start)   # frames from the init frame on
        total = count if opts.max_frames is None else min(opts.max_frames, count or opts.max_frames)
        if on_start:
            on_start(total)
        leftover = point and point.video   # a killed run's --save video: removed once this run completes
        if point is None:   # a new run (--overwrite included): an earlier run's journal no longer applies
            leftover = video_leftover.earlier(resume.journal_data(resume.journal_path(outputs)),
                                              video[0] if video else None)
            resume.remove_journal(resume.journal_path(outputs))
        journal = None
        if resumable:
            streams = streamed_files(sinks)
            sizes = (lambda: [f.size for f in streams]) if len(streams) == len(outputs) else None
            journal = resume.Journal(resume.journal_path(outputs), ident, tracker,
                                     None if point is None else point.template_version, sizes=sizes, replaces=stale,
                                     save=video[0] if video else None, video=None if video else leftover)
        try:
            try:
                summary = track_frames(itertools.chain([first], frames), tracker, boxes, sinks, opts.max_frames,
                                       opts.lost_threshold, on_frame, stop=stop, resume=point,
                                       checkpoint=journal.write if journal else None, skip=not ahead,
                                       keep_cut=keep_cut)
            finally:
                if journal is not None:   # the last frame every output holds (an error: the one before it)
                    journal.settle()
        except OutputFull as exc:   # the whole lines stay in NAME.part: say where, and how to go on once there is room
            advice = (f"; once there is room, continue with {resume_advice(opts.save, opts.overwrite)}"
                      if journal is not None and journal.path.exists() else "")
            raise OutputFull(f"{exc}{unfinished_note(sinks)}{advice}") from None
        except SourceError as exc:   # a live source that stopped: the outputs were closed, say they are usable
            files = [str(p) for p in box_paths(opts.output, len(boxes))] if opts.output else []
            files += [p for p in (opts.jsonl, opts.save) if p and p != "-"]
            note = unfinished_note(sinks)
            if note:
                raise SourceError(f"{exc}{note}{_resume_hint(journal, opts)}") from None
            if not files:
                raise
            gone = remove_earlier(stale) if stale and not keep_cut else []   # its files went onto their names
            also = f" (--overwrite removed the earlier run's {', '.join(map(str, gone))})" if gone else ""
            held = "holds" if len(files) == 1 else "hold"
            raise SourceError(f"{exc}; {', '.join(files)} {held} every frame tracked until then{also}") from None
        except DropTrackError as exc:   # a backend error mid-run: say where the new lines are kept
            note = unfinished_note(sinks)
            if note:
                exc.args = (f"{exc}{note}{_resume_hint(journal, opts)}",)
            raise
        except Exception as exc:
            note = unfinished_note(sinks)[2:]
            if note and hasattr(exc, "add_note"):
                exc.add_note(note)
            elif note:   # Python 3.10 (JetPack 6) has no add_note: said before the error's traceback
                warnings.warn(note, stacklevel=2)
            raise
        if journal is not None and not (summary.interrupted or summary.stopped):
            if leftover:   # removed before the journal naming it
                summary.left_video = video_leftover.remove(leftover, "--overwrite started over" if point is None
                                                           else "--resume does not continue a video",
                                                           None if point is None else summary.frames)
            journal.finish()   # the source is done: nothing left to resume
        summary.resumed, summary.retracked = (0 if point is None else point.frames), retracked
        summary.earlier_unreadable = earlier_bad
        summary.unfinished = unfinished_note(sinks)
        summary.kept = {final: part for s in sinks for part, final in s.unfinished()}
        summary.clashed = [path for s in sinks for path in s.clashes()]
        cut = keep_cut and (summary.interrupted or summary.stopped)   # else its files went onto their names (--loop,
        if stale and not (cut or summary.kept):   # a live source: stopped is how they end), the earlier run's too
            summary.removed = remove_earlier(stale)
        summary.start = first.index
        summary.journal = journal.path if journal is not None and journal.path.exists() else None
        summary.resized = sum(getattr(s, "resized", 0) for s in sinks)
        summary.left_out = sum(getattr(s, "left_out", 0) for s in sinks)
        summary.expected = total if src.num_frames else None   # --max-frames alone is not a count the source gave
        summary.announced = count or None
        summary.source_fps = src.fps
        summary.procedure = tracker.ext.describe()
        return summary
