"""`dt` run and demo: tracking a source."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import typer

from droptrack.cli.app import CONFIG_OPTION, TRUST_OPTION, app, friendly
from droptrack.cli.ext_options import extension_options
from droptrack.errors import print_plain, printable
from droptrack.wording import counted

# shared by dt run and dt serve
SOURCE_ARG = typer.Argument(..., help="camera0 / 0, a GStreamer pipeline ('... ! appsink'), a video file, an image "
                            "folder or an rtsp:// / http:// URL.")
MODEL_OPTION = typer.Option(None, "--checkpoint", "--model", "-m", help="Checkpoint (.pt/.pth.tar/"
                            ".safetensors), ONNX model or TensorRT engine (default: the embedded model).")
LOST_THRESHOLD_OPTION = typer.Option(0.25, "--lost-threshold", help="Score (0 to 1) below which a target is "
                                     "flagged lost (its box is still reported); 0 disables.")
RECONNECT_OPTION = typer.Option(0, "--reconnect", help="Cameras, pipelines, streams: reopen up to N times per drop, "
                                "with backoff (0 = off unless --reconnect-timeout); the first frame after a drop "
                                "has \"reconnect\": {gap_s, attempts} in --jsonl. Refused for video files and "
                                "image folders (they end).")
RECONNECT_TIMEOUT_OPTION = typer.Option(None, "--reconnect-timeout", help="Cameras, pipelines, streams: give up on "
                                        "a drop (or a source that never connects) after S seconds.")
@app.command()
@friendly
@extension_options
def run(
    source: str = SOURCE_ARG,
    checkpoint: Optional[str] = MODEL_OPTION,
    config: Optional[str] = CONFIG_OPTION,
    init: list[str] = typer.Option([], "--init", help="Target box x,y,w,h on the first frame (repeatable: "
                                   "several targets in one batch). Without it: interactive selection."),
    show: bool = typer.Option(False, "--show", help="Window with boxes, scores and FPS (q / Esc stops)."),
    save: Optional[str] = typer.Option(None, "--save", help="Annotated video; its extension picks the container: .mp4, "
                                       ".m4v, .mov (mp4v) or .avi, .mkv (MJPG)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Boxes in the official format (several "
                                         "targets: a file each, _<k> before the extension: boxes.txt -> "
                                         "boxes_0.txt, boxes_1.txt; boxes -> boxes_0, boxes_1)."),
    jsonl: Optional[str] = typer.Option(None, "--jsonl", help="One JSON line per frame (file, or - for stdout)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --output / --jsonl / --save files that "
                                   "already hold data, and a killed run's NAME.part (default: refused before any "
                                   "work); once the run is complete (a camera, stream or --loop run: also when "
                                   "stopped), an earlier run's --output files of other targets (NAME_<k>) go too."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed or interrupted run over a video file "
                                "or image folder: the same command plus --resume appends to its --output / --jsonl "
                                "files the boxes an uninterrupted run writes (NAME.resume.json, beside them, "
                                "records where it stopped)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda | cuda:N (default: cuda when available)."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", help="Stop after N frames."),
    start: int = typer.Option(0, "--start", help="Video files and image folders: the frame (0-based) the --init "
                              "boxes are on and tracking starts from; earlier ones are skipped (a fade-in, a "
                              "black first frame). Box files begin at it; --jsonl keeps the file's frame numbers."),
    lost_threshold: float = LOST_THRESHOLD_OPTION,
    pre: str = typer.Option("auto", "--pre", help="Pre/post-processing: host (numpy/OpenCV reference), device "
                            "(torch on the backend's device), auto (device on CUDA, host on CPU)."),
    width: Optional[int] = typer.Option(None, help="Camera capture width (video files, streams, folders and "
                                        "pipelines keep their own size: refused there)."),
    height: Optional[int] = typer.Option(None, help="Camera capture height (as --width)."),
    fps: Optional[float] = typer.Option(None, help="Camera capture rate; image folders: their timestamp rate "
                                        "(video files, streams and pipelines keep their own: refused there)."),
    loop: bool = typer.Option(False, "--loop", help="Replay a video file or image folder endlessly (soak tests, "
                              "demos); stop with Ctrl-C / SIGTERM or --max-frames."),
    trust_checkpoint: bool = TRUST_OPTION,
    reconnect: int = RECONNECT_OPTION,
    reconnect_timeout: Optional[float] = RECONNECT_TIMEOUT_OPTION,
    every_frame: bool = typer.Option(False, "--every-frame", help="Cameras, pipelines, streams: track every frame "
                                     "in arrival order (queued: the delay grows while the tracker is slower than "
                                     "the source). Default: the newest frame, stale ones skipped (--jsonl "
                                     "'skipped')."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch / ONNX Runtime / OpenCV "
                                          "(default: OMP_NUM_THREADS if set, else 1 for small models like the "
                                          "default one, else the usable cores)."),
    ext: Optional[dict] = None,   # the extension options' TEST keys (extension_options)
) -> None:
    """Track one or several targets through a camera, pipeline, video, folder or stream.

    Box files and JSON lines stream into NAME.part (flushed every frame) and are renamed to NAME when the run
    ends; a NAME that already holds data is refused unless --overwrite is given. SIGINT, SIGTERM and SIGHUP finish
    the current frame, close every output and exit 130 / 143 / 129 (before the first frame, e.g. while a stream
    connects, they stop at once). A reader of --jsonl - that closes the pipe
    (| head) stops the run the same way: every output holds the frames it was sent, exit 141 (as for SIGPIPE).

    Examples:
      dt run clip.mp4 --init 320,180,60,90 -o boxes.txt --save out.mp4
      dt run camera0 -m model_fp16.engine --device cuda --show
      dt run clip.mp4 --init 320,180,60,90 -o boxes.txt --resume
    """

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from droptrack.runtime.signals import after_run
    from droptrack.runtime.run import (RunOptions, ended_early_note, ground_truth_note, resume_advice,
                                       run as run_tracking, size_note, summary_line, summary_table,
                                       time_gap_note, unreadable_note)
    from droptrack.runtime.report import left_out_note
    from droptrack.imagefiles import lone_frame_note
    from droptrack.engine.threads import plan_threads, usable_cores
    from droptrack.runtime.resume_unreadable import retracked_counts
    from droptrack.runtime.sinks import box_paths
    from droptrack.errors import FrameSizeWarning

    opts = RunOptions(source=source, artifact=checkpoint, config=config, init=init, show=show, save=save,
                      output=output, jsonl=jsonl, device=device, max_frames=max_frames,
                      lost_threshold=lost_threshold, pre=pre, width=width, height=height, fps=fps, loop=loop,
                      trust_checkpoint=trust_checkpoint, reconnect=reconnect, reconnect_timeout=reconnect_timeout,
                      threads=threads, every_frame=every_frame, ext=ext, overwrite=overwrite,
                      resume=resume, start=start)
    err = Console(stderr=True)
    progress = Progress(TextColumn("tracking"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[fps]:.1f} frames/s"), TimeElapsedColumn(), console=err)
    task = progress.add_task("run", total=None, fps=0.0, visible=False)

    def start(total: Optional[int]) -> None:   # shown once the source, model and targets are ready
        progress.update(task, total=total, visible=True)
        progress.start()

    def frame_done(s) -> None:   # past a header's too-low frame count the end is unknown ('7/?', not '7/5')
        bar = progress.tasks[0]
        if bar.total is not None and s.frames > bar.total:
            bar.total = max_frames   # rich's update() cannot set None
        progress.update(task, completed=s.frames, fps=s.fps if s.fps == s.fps else 0.0)

    warnings.filterwarnings("ignore", category=FrameSizeWarning)   # size_note says it once at the end, with a count
    with after_run():   # once the run closed its outputs, a stop signal is only noted: the report and exit stay
        try:
            summary = run_tracking(opts, on_start=start, on_frame=frame_done)
        finally:
            if progress.live.is_started:   # stopping a never-started bar prints an empty line before the error
                progress.stop()
        if summary.interrupted and not summary.frames:   # stopped while the source connected or the model loaded
            stopped(summary.signal, "before the first frame; nothing was written")
        out = err if jsonl == "-" else Console()
        out.print(summary_table(summary))
        out.print(summary_line(summary), soft_wrap=True)
        # paths and the source's frame names: control characters escaped (a name from elsewhere may hold them)
        kept = summary.kept   # a file run that ended early beside an earlier result: its own files are NAME.part
        boxes = (", ".join(str(kept.get(p, p)) for p in box_paths(output, max(1, summary.num_targets))) if output
                 else None)
        named = [("boxes", boxes), ("jsonl", jsonl if jsonl != "-" else None), ("video", save)]
        for label, path in [(label, kept.get(Path(p), p) if p and label != "boxes" else p) for label, p in named]:
            if path:
                typer.echo(f"{label}: {printable(path)}", err=jsonl == "-")
        for path in summary.clashed:   # kept beside, not replaced unseen: whose it is, the user decides
            typer.echo(f"warning: {printable(path)} was written by another program while this run wrote it; this run's "
                       f"lines are in {printable(kept.get(path, path))}, that file is as the other left it: keep the "
                       "one you want", err=True)
        if not (output or jsonl or save or show):   # where the files would be named: none was asked for
            typer.echo("boxes: not kept (no --output, --jsonl or --save); pass -o boxes.txt to keep them")
        damaged = summary.damaged.note(source)
        if damaged:
            typer.echo(f"warning: {printable(damaged)}", err=True)
        for note in (unreadable_note(summary), time_gap_note(summary), size_note(summary),
                     ended_early_note(summary, source), ground_truth_note(source, output), lone_frame_note(source),
                     left_out_note(summary)):
            if note:
                typer.echo(f"note: {printable(note)}", err=True)
        plan = plan_threads(threads) if threads is not None else None   # as dt eval and dt bench, not without a word
        if plan is not None and plan.oversubscribed:
            typer.echo(f"note: threads: {plan.reason}, which slow the FPS above; pass --threads {usable_cores()} or "
                       "fewer", err=True)
        if summary.resized:
            typer.echo(f"note: {counted(summary.resized, 'frame')} of another size than the first "
                       f"{'was' if summary.resized == 1 else 'were'} letterboxed into the video",
                       err=True)
        if summary.removed:   # --overwrite with another number of targets: the folder holds this run's files only
            typer.echo(f"note: --overwrite removed the earlier run's {printable(', '.join(map(str, summary.removed)))} "
                       f"(this run tracked {counted(summary.num_targets, 'target')})", err=True)
        if summary.resumed:
            typer.echo(f"note: {resumed_note(summary.resumed, summary.retracked, *retracked_counts(summary))}",
                       err=True)
        if summary.left_video:
            typer.echo(f"note: {printable(summary.left_video)}", err=True)
        if summary.stopped and (summary.journal or summary.unfinished):   # q / Esc in the window; the rest is
            more = f"; continue with {resume_advice(save, overwrite)}" if summary.journal else ""   # trackable, and
            typer.echo(f"note: stopped from the window after {counted(summary.frames, 'frame')}"   # an earlier
                       f"{printable(summary.unfinished)}{more}", err=True)   # result kept
        if summary.interrupted:
            more = f"; continue with {resume_advice(save, overwrite)}" if summary.journal else ""
            where = printable(summary.unfinished) or "; outputs are complete up to there"
            stopped(summary.signal, f"after {counted(summary.frames, 'frame')}{where}{more}")


def resumed_note(vouched: int, retracked: int, tracked: int | None = None, unreadable: int = 0,
                 unreached: int = 0) -> str:
    """What --resume did with the outputs: went on after their frames, or, where the journal had fallen behind them
    (a full disk refused its updates, a kill came between two), cut them back to its frames and tracked the rest
    again: of those, `tracked` were (None: all), `unreadable` could not be decoded again, `unreached` came after
    where this run stopped in turn."""
    if not retracked:
        return f"resumed after the {counted(vouched, 'frame')} the outputs held"
    again = " and tracked again" if tracked in (None, retracked) else f": {tracked} of them tracked again" + (
        f", {unreadable} could not be decoded again" if unreadable else "") + (
        f", {unreached} not reached before this run stopped" if unreached else "")
    return (f"resumed after the {counted(vouched, 'frame')} the resume journal vouched for: the outputs held "
            f"{vouched + retracked}, and the {retracked} after those were cut off{again} (the journal's "
            "later updates were not written: a kill between two, or a full disk)")


def stopped(signum: int | None, when: str) -> None:
    """'SIGTERM: stopped WHEN' and exit 128 + the signal (130 for a raw Ctrl-C; 141 for a closed --jsonl - pipe);
    dt run and dt serve."""
    import signal

    from droptrack.runtime.signals import SIGPIPE

    if signum == SIGPIPE:   # no signal came: a write to the closed pipe failed (Python ignores SIGPIPE)
        name = "SIGPIPE: the reader of --jsonl - closed the pipe;"
    else:
        name = (signal.Signals(signum).name if signum else "SIGINT") + ":"
    typer.echo(f"{name} stopped {when}", err=True)
    raise typer.Exit(128 + (signum or signal.SIGINT))


@app.command()
@friendly
def demo(
    output: Path = typer.Option(Path("droptrack-demo"), "--output", "-o", help="Folder for everything the demo "
                                "writes; a rerun into it reuses its synthetic data. A folder that holds files of "
                                "the names it writes (export/model.onnx, ...) which no dt demo wrote is refused.",
                                readable=False),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Checkpoint to demo (default: the "
                                              "embedded model).", readable=False),
    config: Optional[str] = CONFIG_OPTION,
    sequences: int = typer.Option(6, "--sequences", help="Synthetic benchmark sequences."),
    frames: int = typer.Option(40, "--frames", help="Frames per synthetic sequence."),
    video_frames: int = typer.Option(55, "--video-frames", help="Frames of the real video to track (2 to 55: "
                                     "the parked bike's shot in bikes.mp4)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for the bench (default as dt "
                                          "bench: OMP_NUM_THREADS if set, else 1 for small models like the "
                                          "embedded one, else all usable cores)."),
    trust_checkpoint: bool = TRUST_OPTION,
) -> None:
    """Synthetic benchmark, ONNX FP32/FP16/INT8 export, dt bench of all forms, tracking of a real video.

    Examples:
      dt demo
      dt demo -o demo2 --threads 2
    """
    from rich.console import Console

    from droptrack.demo import bench_hint, run_demo
    from droptrack.eval.bench_view import bench_table, table_console
    from droptrack.eval.bench_rows import failure_lines
    from droptrack.signals import stop_signals

    console = Console()

    def say(line: str) -> None:   # lines name paths and files: plain text, not rich markup
        print_plain(console, line)

    try:
        with stop_signals():   # SIGTERM / SIGHUP as Ctrl-C, and SIGINT / SIGTERM inherited as ignored (held for it)
            res = run_demo(output, checkpoint, sequences, frames, video_frames, log=say, threads=threads,
                           config=config, trust=trust_checkpoint)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", 2)
        what = f"stopped by {exc}" if signum != 2 else "interrupted"
        typer.echo(f"{what}; run the same command again to continue in '{printable(output)}': its synthetic "
                   "data is kept, the other steps run again", err=True)
        raise typer.Exit(128 + signum) from None
    table = bench_table(res.bench)
    table_console(table).print(table)
    b = res.bench.output_dir
    lines = [*failure_lines(res.bench.rows), *res.notes, f"report: {b / 'bench.md'} (json: {b / 'bench.json'})"]
    lines += ["plots: " + "  ".join(str(b / p) for p in res.bench.plots.values())] if res.bench.plots else []
    if res.video is not None:
        s = res.video_summary
        lines += [f"video: {res.video} ({s.frames} frames, {s.fps:.1f} FPS with {Path(res.video_model).name})",
                  f"strip: {res.strip}  boxes: {res.boxes}"]
    lines.append("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in res.timings.items()))
    trusted = res.bench.options.trust_checkpoint   # the checkpoint is among the rows: the line loads it again
    lines.append(f"next: {bench_hint([r.artifact for r in res.bench.rows], config, trusted)}")
    for line in lines:
        say(line)
