"""`dt run` as a library function: open the source, load the artifact, resolve the targets, loop, summarise."""

from __future__ import annotations

import itertools
import math
import os
import re
import sys
import warnings
from contextlib import closing, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from droptrack.artifact import artifact_format
from droptrack.engine.base import TORCH_IO_BACKENDS, cuda_available
from droptrack.engine.threads import apply_threads, plan_threads, restore_threads
from droptrack.errors import (BackendError, CornerBoxWarning, FlatTargetWarning, InputError, OutputFull,
                              SourceError)
from droptrack.geometry import parse_box, sample_target, validate_init_box
from droptrack.paths import masked, writes_in_place
from droptrack.runtime import outlock, readers, resume, sources
from droptrack.runtime.checks import (check_source_options, check_start, check_tracking_options, corner_box_note,
                                       flat_target_note)
from droptrack.runtime.inputs import check_channels, check_device
from droptrack.runtime.loop import DEFAULT_LOST_THRESHOLD, RunSummary, track_frames
from droptrack.runtime.looping import LoopedSource
from droptrack.runtime.reconnect import ReconnectPolicy
from droptrack.runtime.signals import StopFlag, graceful_signals
from droptrack.runtime.sinks import BoxFileSink, JsonlSink, VideoSink, box_paths
from droptrack.runtime.tracker import Tracker, load_backend, tracker_ext
from droptrack.runtime.window import WindowSink, display_problem, select_targets
from droptrack.videofiles import PixelAspectWarning, fewer_frames_stored
from droptrack.wording import counted


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


def resolve_device(device: str | None, artifact: str | None) -> str:
    """cpu / cuda[:N] (any case, lower-cased); None = cuda when available (always for .engine), else cpu."""
    cuda = cuda_available()
    if device is None:
        return "cuda" if (cuda or artifact_format(artifact) == "engine") else "cpu"
    text = device.strip().lower()   # any case, as the Python API's check_device takes it
    if not re.fullmatch(r"cpu(:0)?|cuda(:\d+)?", text):
        raise InputError(f"--device '{device}' is not cpu or cuda; pass --device cpu or --device cuda")
    device = "cpu" if text.startswith("cpu") else text
    if device.startswith("cuda") and not cuda:
        if artifact_format(artifact) == "engine":   # --device cpu is no way out for an engine
            from droptrack.engine.tensorrt_backend import onnx_instead

            raise BackendError(f"TensorRT engine '{artifact}' needs CUDA, which is not available here; "
                               f"{onnx_instead(artifact)}")
        raise BackendError("--device cuda requested but CUDA is not available here; use --device cpu")
    return device


def _needs_torch(artifact: str | None, device: str) -> bool:
    """Whether this run loads torch: all but an ONNX model on the CPU (host Tracker + ONNX Runtime, torch-free)."""
    return artifact_format(artifact) != "onnx" or device != "cpu"


def build_tracker(artifact: str | None, config: str | None, device: str, pre: str = "auto", threads: int = 0,
                  trust: bool = False, ext: dict | None = None, channels: str = "rgb") -> Tracker:
    """Backend by suffix, wrapped in the host (numpy/OpenCV) Tracker or the DeviceTracker.

    `threads`: ONNX Runtime intra-op threads (0 = ORT's default); plan them with `engine.threads.plan_threads`
    and set torch/OpenCV with `apply_threads` first. `trust`: `--trust-checkpoint` (legacy pickles). `ext`:
    tracker-extension overrides of the artifact's TEST keys (`runtime.extensions`; `check_options` checks them
    before any work starts). `channels`: 'bgr' for callers passing OpenCV's BGR frames."""
    device, _ = check_device(device), check_channels(channels)   # 'CUDA' must not pick the host Tracker for CUDA
    if pre not in ("auto", "host", "device"):
        raise InputError(f"--pre '{pre}' must be auto, host or device")
    if artifact_format(artifact) == "engine" and not device.startswith("cuda"):
        raise InputError("TensorRT engines run on CUDA only; pass --device cuda or use the .onnx/.pt model")
    try:
        backend = load_backend(artifact, config, device, threads, trust=trust)
    except ModuleNotFoundError as exc:
        what = {"tensorrt": "TensorRT (pip install tensorrt, or JetPack's python3-libnvinfer)",
                "onnxruntime": "ONNX Runtime (pip install onnxruntime or onnxruntime-gpu)"}
        hint = next((v for k, v in what.items() if k in str(exc.name)), f"module {exc.name}")
        raise BackendError(f"the backend for '{artifact}' is not available: {hint} is missing") from None
    settings = tracker_ext(backend, ext)
    if pre == "host" or (pre == "auto" and not (device.startswith("cuda") and backend.name in TORCH_IO_BACKENDS)):
        return Tracker(backend, settings, channels)   # (the host path: an ONNX model then needs no torch)
    from droptrack.runtime.device_tracker import DeviceTracker

    return DeviceTracker(backend, device=device, ext=settings, channels=channels)


def _pre_used(tracker) -> str:
    """Where `tracker` pre-processes: 'device' (DeviceTracker) or 'host' (what --pre auto resolved to)."""
    dev = sys.modules.get("droptrack.runtime.device_tracker")   # not imported: no DeviceTracker exists (nor torch)
    return "device" if dev is not None and isinstance(tracker, dev.DeviceTracker) else "host"


def _first_frame_boxes(frame, boxes: list[list[float]], meta) -> list[list[float]]:
    """Validate the boxes on the first frame (before any output file is created)."""
    checked = [validate_init_box(b, frame.image.shape[:2]) for b in boxes]
    for b in checked:
        if b[2] < 1 or b[3] < 1:   # the official result file would hold a 0-wide box; a target is >= 1 px
            raise InputError(f"init box {b} is under 1 pixel wide or high; give a box of at least 1x1 px")
        sample_target(frame.image, b, meta.template_factor, 1)   # raises for crops outside the image
    return checked


def check_options(opts: RunOptions, num_targets: int) -> None:
    """Numbers in range and every output path usable (and none of them an input) before any frame is read (the
    checks dt serve makes too, in the same order: `checks.check_tracking_options`)."""
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
        kind = sources.source_kind(opts.source)
        if opts.loop or kind not in ("video", "folder"):
            what = "--loop replays it without end" if opts.loop else f"'{masked(opts.source)}' is a {kind}"
            raise InputError(f"--resume continues a run over a video file or image folder; {what}: drop --resume")
    elif not opts.overwrite:   # an interrupted run's files: say how to continue them
        outputs = resume.streamed_outputs(opts.jsonl, opts.output, num_targets)
        journal = resume.journal_path(outputs)
        if resume.unfinished(journal, outputs):
            raise InputError(f"the outputs hold an unfinished run (its journal {journal}): continue it with "
                             f"{resume_advice(opts.save)}, or pass --overwrite to start over")
    check_tracking_options(opts, _box_outputs(opts.output, num_targets), opts.trust_checkpoint)


def resume_advice(save: str | None) -> str:
    """How an interrupted run goes on, for its messages: the same command plus --resume, and without --save when it
    had one (a video cannot be continued, so the command as it was is refused)."""
    return "the same command and --resume" + (" but without --save (a video cannot be continued)" if save else "")


def _box_outputs(output: str | None, num_targets: int) -> list:
    """The box files of --output; 'out/' or an existing folder is kept as given, so that it is refused as a folder
    (not written as 'out', or, with several targets, as 'out_0', 'out_1' beside it)."""
    if not output:
        return []
    folder = output.endswith(("/", os.sep)) or os.path.isdir(os.path.expanduser(output))
    return [output] if folder else box_paths(output, max(1, num_targets))


def _streams(sinks: list) -> list:
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
    with graceful_signals(StopFlag()) as stop:
        try:
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
        if problem:
            raise InputError(f"no --init box and no display for interactive selection ({problem}); "
                             "pass --init x,y,w,h (repeatable)")
    device = resolve_device(opts.device, opts.artifact)
    with ExitStack() as stack:
        stack.callback(restore_threads, apply_threads(threads, torch_too=_needs_torch(opts.artifact, device)))
        src = stack.enter_context(_open_source(opts, policy))
        tracker = build_tracker(opts.artifact, opts.config, device, opts.pre, threads, trust=opts.trust_checkpoint,
                                ext=opts.ext)
        if getattr(src, "live", False):   # live: the newest frame (stale ones skipped), unless --every-frame
            frames = iter(src) if opts.every_frame else readers.newest(src)
        else:
            frames = readers.prefetch(src)   # files: decode ahead
        stack.callback(getattr(frames, "close", lambda: None))   # stop the decode thread before closing src
        first = readers.first_at(frames, opts.start, src.name)
        if first is None:
            raise InputError(f"{src.name} has no frames")
        boxes = _first_frame_boxes(first, boxes or select_targets(first.image), tracker.meta)
        if opts.output and len(boxes) != max(1, len(opts.init)):
            check_options(opts, len(boxes))   # interactive selection: NAME_<k>.txt paths
        outputs = resume.streamed_outputs(opts.jsonl, opts.output, len(boxes))
        video = [Path(opts.save)] if opts.save and not writes_in_place(opts.save) else []
        stack.enter_context(outlock.locked(outputs + video))   # a second run onto these files is refused
        resumable = bool(outputs) and not getattr(src, "live", False) and not opts.loop   # a file source: journaled
        compute = {"device": "cuda:0" if device == "cuda" else device, "pre": _pre_used(tracker)}
        ident = resume.identity(opts, boxes, tracker, outputs, compute) if resumable or opts.resume else {}   # hashes
        point, retracked = None, 0
        if opts.resume:   # a journal an earlier droptrack wrote is checked as it was written
            legacy = resume.legacy_identity(opts, boxes, tracker, outputs)
            point = resume.load(resume.journal_path(outputs), ident, legacy)
        if point is not None:
            if opts.max_frames is not None and opts.max_frames < point.frames:
                raise InputError(f"--resume: the outputs already hold {point.frames} frames, more than --max-frames "
                                 f"{opts.max_frames}; pass --max-frames {point.frames} or more (or drop it) to "
                                 f"continue, or {resume.START_OVER}")
            retracked = resume.cut_outputs(outputs, point.frames, point.sizes) - point.frames
        ahead = point and readers.seek_ahead(src, first.index, point.frames)
        if ahead:   # a seek past the frames the outputs hold: the reader before it stops first
            frames.close()
            frames = stack.enter_context(closing(readers.prefetch(stack.enter_context(ahead))))
        lines = None if point is None else point.frames
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
        note = getattr(src, "aspect_note", None)   # said once every check passed: an error stays the only line
        if note:
            warnings.warn(note, PixelAspectWarning, stacklevel=2)
        flat = flat_target_note(first.image, boxes, first.index)
        if flat:
            warnings.warn(flat, FlatTargetWarning, stacklevel=2)
        corners = corner_box_note(boxes, first.image.shape[:2])
        if corners:
            warnings.warn(corners, CornerBoxWarning, stacklevel=2)
        count = src.num_frames and max(1, src.num_frames - opts.start)   # frames from the init frame on
        total = count if opts.max_frames is None else min(opts.max_frames, count or opts.max_frames)
        if on_start:
            on_start(total)
        if point is None:   # a new run (--overwrite included): an earlier run's journal no longer applies
            resume.remove_journal(resume.journal_path(outputs))
        journal = None
        if resumable:
            streams = _streams(sinks)
            sizes = (lambda: [f.size for f in streams]) if len(streams) == len(outputs) else None
            journal = resume.Journal(resume.journal_path(outputs), ident, tracker,
                                     None if point is None else point.template_version, sizes=sizes)
        try:
            try:
                summary = track_frames(itertools.chain([first], frames), tracker, boxes, sinks, opts.max_frames,
                                       opts.lost_threshold, on_frame, stop=stop, resume=point,
                                       checkpoint=journal.write if journal else None, skip=not ahead)
            finally:
                if journal is not None:   # the last frame every output holds (an error: the one before it)
                    journal.settle()
        except OutputFull as exc:   # the whole lines stay: say how to go on once there is room
            if journal is None or not journal.path.exists():
                raise
            raise OutputFull(f"{exc}; once there is room, continue with {resume_advice(opts.save)}") from None
        except SourceError as exc:   # a live source that stopped: the outputs were closed, say they are usable
            files = [str(p) for p in box_paths(opts.output, len(boxes))] if opts.output else []
            files += [p for p in (opts.jsonl, opts.save) if p and p != "-"]
            if not files:
                raise
            raise SourceError(f"{exc}; {', '.join(files)} hold every frame tracked until then") from None
        if journal is not None and not (summary.interrupted or summary.stopped):
            journal.finish()   # the source is done: nothing left to resume
        summary.resumed, summary.retracked = (0 if point is None else point.frames), retracked
        summary.journal = journal.path if journal is not None and journal.path.exists() else None
        summary.resized = sum(getattr(s, "resized", 0) for s in sinks)
        summary.expected = total if src.num_frames else None   # --max-frames alone is not a count the source gave
        summary.source_fps = src.fps
        summary.procedure = tracker.ext.describe()
        return summary


def ground_truth_note(source: str, output: str | None) -> str | None:
    """A note when --output is where dt eval / dt bench read the source's ground truth (`clip.txt` beside
    `clip.mp4`, `groundtruth.txt` in a frame folder): they would score against these boxes."""
    if not output:
        return None
    from droptrack.data.folder import ground_truth_files

    src, out = Path(os.path.expanduser(source)), Path(os.path.expanduser(output))
    if not src.exists() or not any(os.path.abspath(out) == os.path.abspath(p) for p in ground_truth_files(src)):
        return None
    return (f"{out} is where dt eval and dt bench read {src.name}'s ground truth: they will score trackers against "
            "these boxes; name it otherwise if they are not ground truth")


def ended_early_note(summary: RunSummary) -> str | None:
    """A note when a file source gave fewer frames than its header announced, else None: truncated or damaged, or
    (its frames' times run on to where the count would end) fewer frames stored than its rate says."""
    if summary.interrupted or summary.stopped or not summary.expected or summary.frames >= summary.expected:
        return None
    stored = fewer_frames_stored("the source", summary.frames, summary.expected, summary.source_fps,
                                 summary.last_timestamp)
    if stored is not None:   # times ran ahead of the frames
        return f"{stored}; the outputs hold one line per stored frame (--jsonl gives each one's time)"
    return (f"the source ended after {summary.frames} of the {summary.expected} frames its header announces "
            "(a truncated or damaged file?); the outputs hold those frames")


def unreadable_note(summary: RunSummary) -> str | None:
    """A note naming the frames of the file that could not be decoded (skipped, no box), else None."""
    bad = summary.unreadable
    if not bad:
        return None
    shown = ", ".join(map(str, bad[:10])) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
    return (f"{len(bad)} frame(s) could not be decoded and have no box: {shown} (0-based); their lines read nan in "
            "the box files, \"unreadable\": true in --jsonl, a gray frame in --save")


def size_note(summary: RunSummary) -> str | None:
    """A note when frames differ in size from the first (an image folder mixing sizes), else None."""
    if not summary.other_sizes or summary.first_size is None or summary.other_example is None:
        return None
    (w, h), (index, w2, h2) = summary.first_size, summary.other_example
    return (f"{summary.other_sizes} frame(s) differ in size from the first frame ({w}x{h}), the first of them frame "
            f"{index} ({w2}x{h2}, 0-based): each box is in its own frame's pixels, and the tracker does not rescale "
            "its target between sizes (a stray thumbnail, or frames of two cameras?): move such frames out, or resize "
            "them all to one size")


def summary_table(summary: RunSummary):
    """Rich table of the per-stage mean and p99 latency (tracked frames; the init frame excluded)."""
    from rich.table import Table

    table = Table(title="latency per stage")
    for col, just in (("stage", "left"), ("mean ms", "right"), ("p99 ms", "right")):
        table.add_column(col, justify=just)
    for stage, v in summary.stage_stats().items():   # "-": no tracked frame (a 1-frame source, --max-frames 1)
        table.add_row(stage, *(f"{v[k]:.2f}" if math.isfinite(v[k]) else "-" for k in ("mean_ms", "p99_ms")))
    return table


def summary_line(summary: RunSummary) -> str:
    """Frames, targets, FPS, loop overhead and lost frames in one line."""
    speed = (f"{summary.fps:.1f} FPS, init {summary.init_ms:.1f} ms, overhead (total - infer) / infer "
             f"{100 * summary.overhead:.1f} %" if summary.tracked else
             f"init {summary.init_ms:.1f} ms, no frame tracked after the init frame (no FPS)")
    new = summary.frames - summary.resumed   # a resumed run counts lost frames over the frames it tracked itself
    return (counted(summary.frames, "frame") + (f" ({new} tracked after resuming at frame {summary.resumed})"
                                          if summary.resumed else "")
            + f", {counted(summary.num_targets, 'target')}, {speed}, {counted(summary.lost_count, 'frame')} with a "
            "lost target"
            + (f" among those {new}" if summary.resumed else "")
            + (f", {summary.skipped} stale live frames skipped (--every-frame queues them)" if summary.skipped else "")
            + f"; tracker: {summary.procedure}")
