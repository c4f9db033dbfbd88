"""`dt`: the droptrack command line. Each command parses options, calls one library function and prints."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, Optional

import typer

from droptrack.errors import DropTrackError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="DropTrack / OSTrack: train, export, run, evaluate and benchmark single-object trackers.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: synthetic benchmark generation.")
app.add_typer(data_app, name="data")


def friendly(fn: Callable) -> Callable:
    """Turn DropTrackError into a one-line message and its exit code (no traceback for user errors)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DropTrackError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


@app.command()
def version() -> None:
    """Print the droptrack version."""
    from droptrack import __version__

    typer.echo(__version__)


@data_app.command("synth")
@friendly
def data_synth(
    out: Path = typer.Argument(..., help="Output folder (GOT-10k layout: list.txt, <seq>/00000001.jpg, ...)."),
    sequences: int = typer.Option(8, "--sequences", "-n", help="Number of sequences."),
    frames: int = typer.Option(40, "--frames", help="Frames per sequence."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed -> identical files)."),
    size: str = typer.Option("320x240", "--size", help="Frame size WxH."),
    split: str = typer.Option("train", "--split", help="train | val (val uses photos disjoint from train)."),
    ext: str = typer.Option("jpg", "--ext", help="jpg | png"),
    gray: float = typer.Option(0.3, "--gray", help="train: probability that a photo is turned gray."),
) -> None:
    """Generate a synthetic tracking benchmark from the real photos shipped with scikit-image."""
    from droptrack.data.synth import generate_synth, parse_size

    path = generate_synth(out, sequences, frames, seed, parse_size(size), split, ext, progress=True, gray=gray)
    typer.echo(f"synthetic set: {path}")


@app.command()
@friendly
def train(
    config: str = typer.Option(..., "--config", "-c", help="Config name or YAML path."),
    output: Path = typer.Option(..., "--output", "-o", help="Output directory (checkpoints, config, logs)."),
    pretrained: Optional[Path] = typer.Option(None, help="MAE / DropMAE / timm ViT weights for the backbone."),
    data: list[str] = typer.Option([], "--data", help="NAME=PATH dataset root (repeatable); a bare PATH is SYNTH."),
    val_data: Optional[Path] = typer.Option(None, help="GOT-10k-layout folder for validation AUC."),
    epochs: Optional[int] = typer.Option(None, help="Override TRAIN.EPOCH."),
    batch_size: Optional[int] = typer.Option(None, help="Per-process batch (LR scales linearly)."),
    samples_per_epoch: Optional[int] = typer.Option(None, help="Override DATA.TRAIN.SAMPLE_PER_EPOCH."),
    workers: Optional[int] = typer.Option(None, help="DataLoader workers (default TRAIN.NUM_WORKER)."),
    resume: bool = typer.Option(False, help="Continue from OUTPUT/last.pt."),
    save_every: int = typer.Option(1, help="Keep a checkpoint every K epochs."),
    keep_last: int = typer.Option(3, help="How many epoch checkpoints to keep."),
    val_every: Optional[int] = typer.Option(None, help="Validate every K epochs (default TRAIN.VAL_EPOCH_INTERVAL)."),
    seed: int = typer.Option(42),
    amp: str = typer.Option("off", help="off | bf16 | fp16"),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    nproc: int = typer.Option(1, help="Processes: >1 launches torchrun (gloo on CPU, NCCL on GPU)."),
    max_iters: Optional[int] = typer.Option(None, help="Cap iterations per epoch (smoke tests)."),
    freeze_bn: bool = typer.Option(False, help="Head BatchNorm in eval mode (DDP then equals one process)."),
    threads: Optional[int] = typer.Option(None, help="torch threads in the training process (CPU)."),
) -> None:
    """Fine-tune (or train from scratch) with the official recipe; resumable; DDP via torchrun."""
    import sys

    from droptrack.errors import InputError
    from droptrack.train.trainer import TrainOptions, train as run

    if amp not in ("off", "bf16", "fp16"):
        raise InputError(f"--amp {amp!r} is not one of off, bf16, fp16")
    if nproc > 1:
        import subprocess

        args, skip = [], False
        for a in sys.argv[2:]:
            if skip or a.startswith("--nproc"):
                skip = a == "--nproc"
                continue
            args.append(a)
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "-m", "droptrack.train",
               *args]
        raise typer.Exit(subprocess.call(cmd))
    final = run(TrainOptions(config=config, output=output, pretrained=pretrained, data=data, val_data=val_data,
                             epochs=epochs, batch_size=batch_size, samples_per_epoch=samples_per_epoch,
                             workers=workers, resume=resume, save_every=save_every, keep_last=keep_last,
                             val_every=val_every, seed=seed, amp=amp, device=device, max_iters=max_iters,
                             freeze_bn=freeze_bn, threads=threads))
    typer.echo(f"checkpoint: {final}\nnext: dt export {final}")


@app.command()
@friendly
def analyze(
    result_dirs: list[Path] = typer.Argument(..., help="One result folder per tracker (<seq>.txt files)."),
    dataset: str = typer.Option(..., "--dataset", help="Dataset name, e.g. lasot, otb, uav, got10k_val."),
    root: Optional[Path] = typer.Option(None, "--root", help="Dataset root (default: the data module's)."),
    split: Optional[str] = typer.Option(None, "--split", help="Dataset split, where the dataset has several."),
    output: Optional[Path] = typer.Option(None, "--output", help="Folder for report.json and plots "
                                          "(default: analysis/<dataset>)."),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="ostrack-ope, pytracking-ope, got10k-toolkit "
                                           "or trackingnet-devkit (default: the dataset's own toolkit)."),
) -> None:
    """Score trackers' result folders against a dataset: table, report.json, success and precision plots."""
    from rich.console import Console

    from droptrack.eval.report import analyze_dataset, report_table

    report = analyze_dataset(result_dirs, dataset, root=root, split=split,
                             output_dir=output or Path("analysis") / dataset, protocol=protocol)
    Console().print(report_table(report))
    typer.echo(f"report: {report.output_dir / 'report.json'}")


@app.command()
@friendly
def run(
    source: str = typer.Argument(..., help="camera0 / 0, a GStreamer pipeline ('... ! appsink'), a video file, an "
                                 "image folder or an rtsp:// / http:// URL."),
    checkpoint: Optional[str] = typer.Option(None, "--checkpoint", "--model", "-m",
                                             help="Checkpoint (.pt/.pth.tar), ONNX model or TensorRT engine "
                                                  "(default: the embedded model)."),
    config: Optional[str] = typer.Option(None, "--config", help="Config name for official checkpoints."),
    init: list[str] = typer.Option([], "--init", help="Target box x,y,w,h on the first frame (repeatable: "
                                   "several targets in one batch). Without it: interactive selection."),
    show: bool = typer.Option(False, "--show", help="Window with boxes, scores and FPS (q / Esc stops)."),
    save: Optional[str] = typer.Option(None, "--save", help="Annotated video (.mp4: mp4v, .avi: MJPG)."),
    output: Optional[str] = typer.Option(None, "--output", help="Boxes in the official format (several "
                                         "targets: NAME_<k>.txt)."),
    jsonl: Optional[str] = typer.Option(None, "--jsonl", help="One JSON line per frame (file, or - for stdout)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda (default: cuda when available)."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", help="Stop after N frames."),
    lost_threshold: float = typer.Option(0.25, "--lost-threshold", help="Score below which a target is flagged "
                                         "lost (its box is still reported); 0 disables."),
    pre: str = typer.Option("auto", "--pre", help="Pre/post-processing: host (numpy/OpenCV reference), device "
                            "(torch on the backend's device), auto (device on CUDA, host on CPU)."),
    width: Optional[int] = typer.Option(None, help="Camera/stream capture width."),
    height: Optional[int] = typer.Option(None, help="Camera/stream capture height."),
    fps: Optional[float] = typer.Option(None, help="Camera capture rate (image folders: timestamp rate)."),
) -> None:
    """Track one or several targets through a camera, pipeline, video, folder or stream."""
    import os

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")   # FFmpeg's own log lines; our errors say what failed
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from droptrack.runtime.run import RunOptions, run as run_tracking, summary_line, summary_table

    opts = RunOptions(source=source, artifact=checkpoint, config=config, init=init, show=show, save=save,
                      output=output, jsonl=jsonl, device=device, max_frames=max_frames,
                      lost_threshold=lost_threshold, pre=pre, width=width, height=height, fps=fps)
    err = Console(stderr=True)
    progress = Progress(TextColumn("tracking"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[fps]:.1f} frames/s"), TimeElapsedColumn(), console=err)
    task = progress.add_task("run", total=None, fps=0.0, visible=False)

    def start(total: Optional[int]) -> None:   # shown once the source, model and targets are ready
        progress.update(task, total=total, visible=True)
        progress.start()

    try:
        summary = run_tracking(opts, on_start=start,
                               on_frame=lambda s: progress.update(task, completed=s.frames,
                                                                  fps=s.fps if s.fps == s.fps else 0.0))
    finally:
        progress.stop()
    out = err if jsonl == "-" else Console()
    out.print(summary_table(summary))
    out.print(summary_line(summary), soft_wrap=True)
    for label, path in (("boxes", output), ("jsonl", jsonl if jsonl != "-" else None), ("video", save)):
        if path:
            typer.echo(f"{label}: {path}", err=jsonl == "-")
    if summary.interrupted:
        typer.echo(f"interrupted after {summary.frames} frames; outputs are complete up to there", err=True)
        raise typer.Exit(130)


@app.command("eval")
@friendly
def eval_(
    dataset: str = typer.Option(..., "--dataset", help="Dataset name, e.g. lasot, otb, uav, got10k_val, trackingnet, "
                                "synth."),
    root: Optional[Path] = typer.Option(None, "--root", help="Dataset root (default: DT_DATA_<NAME> or DT_DATA)."),
    split: Optional[str] = typer.Option(None, "--split", help="Dataset split, where the dataset has several."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "--model", help="Checkpoint, .onnx or .engine "
                                              "(default: the embedded model)."),
    config: Optional[str] = typer.Option(None, "--config", help="Config name for official checkpoints."),
    workers: int = typer.Option(1, "--workers", help="Parallel worker processes, one model each."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads per worker (default: cores / "
                                          "workers)."),
    sequences: Optional[str] = typer.Option(None, "--sequences", help="Comma-separated sequence names."),
    output: Optional[Path] = typer.Option(None, "--output", help="Results folder (default: results/<dataset>); "
                                          "files go to OUTPUT/<tracker>/."),
    name: Optional[str] = typer.Option(None, "--name", help="Tracker folder name (default: the artifact's stem)."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda"),
) -> None:
    """Run a tracker over a benchmark in parallel; write official result files; resumable; print the scores."""
    from rich.console import Console

    from droptrack.eval.run import evaluate_dataset, summary_lines

    names = [s.strip() for s in sequences.split(",") if s.strip()] if sequences else None
    try:
        result = evaluate_dataset(dataset, checkpoint, root=root, split=split, names=names, output_dir=output,
                                  workers=workers, threads=threads, device=device, config=config, name=name)
    except KeyboardInterrupt:
        typer.echo("interrupted: finished sequences are saved; run the same command to resume", err=True)
        raise typer.Exit(130) from None
    console = Console()
    for line in summary_lines(result):
        console.print(line)


@app.command("export")
@friendly
def export_(
    checkpoint: Optional[str] = typer.Argument(None, help="Checkpoint (.pt / .pth.tar; default: the embedded model), "
                                               "or an exported .onnx to (re)build only its engine with --engine."),
    config: Optional[str] = typer.Option(None, "--config", help="Config name for official checkpoints."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset (>= 17: LayerNormalization)."),
    output: Path = typer.Option(Path("out/export"), "--output", "-o", help="Output folder."),
    fp16: bool = typer.Option(False, "--fp16", help="Also write model_fp16.onnx (FP32 islands, float32 I/O)."),
    int8: bool = typer.Option(False, "--int8", help="Also write model_int8.onnx (explicit Q/DQ, calibrated)."),
    precision: list[str] = typer.Option([], "--precision", help="fp32 | fp16 | int8, comma-separated or repeated "
                                        "(same as --fp16 / --int8)."),
    calib: Optional[str] = typer.Option(None, "--calib", help="INT8 calibration data: synth (default), photos or "
                                        "NAME[:ROOT] of a dataset (e.g. got10k:/data/got10k)."),
    calib_pairs: int = typer.Option(32, "--calib-pairs", help="Template/search pairs for INT8 calibration."),
    engine: bool = typer.Option(False, "--engine", help="Build TensorRT engines (needs TensorRT and a GPU)."),
    workspace: float = typer.Option(4.0, "--workspace", help="TensorRT workspace limit in GB."),
    trt_typing: str = typer.Option("strong", "--trt-typing", help="strong (precision from the graph; TensorRT 10 "
                                   "and 11) or flags (TensorRT 10 builder flags)."),
) -> None:
    """Export verified ONNX graphs (FP32, FP16, INT8) and TensorRT engines, with parity against PyTorch."""
    from rich.console import Console

    from droptrack.errors import InputError
    from droptrack.export.parity import parity_table
    from droptrack.export.pipeline import ParityError, export_all
    from droptrack.export.report import next_commands, notes, summary_table

    if calib is not None and not int8 and "int8" not in ",".join(precision):
        raise InputError("--calib is only used with --int8; add --int8 or drop --calib")
    precs = list(precision) + (["fp16"] if fp16 else []) + (["int8"] if int8 else [])
    err = Console(stderr=True)
    out = Console(width=max(Console().width, 132))   # tables stay readable in logs and narrow terminals
    failed = None
    try:
        report = export_all(checkpoint, config, output, opset, precs, calib, calib_pairs, engine, workspace,
                            trt_typing, log=lambda s: err.print(s, highlight=False))
    except ParityError as exc:
        if exc.report is None:
            raise
        report, failed = exc.report, exc
    for r in report.results:
        if r.parity is not None:
            out.print(parity_table(r.parity))
    out.print(summary_table(report))
    for line in notes(report):
        out.print(f"note: {line}", highlight=False, soft_wrap=True)
    if failed is not None:
        raise failed
    for cmd in next_commands(report):
        out.print(f"next: {cmd}", highlight=False, soft_wrap=True)


@app.command()
@friendly
def doctor(
    artifact: Optional[Path] = typer.Argument(None, help="Checkpoint, .onnx or .engine to check against this machine."),
) -> None:
    """Print the environment (torch, ONNX Runtime, TensorRT, CUDA, GPU, Jetson) and check an artifact against it."""
    from rich.console import Console
    from rich.table import Table

    from droptrack.engine.doctor import check_artifact, environment, environment_checks

    env = environment()
    table = Table(title="dt doctor", show_header=False)
    for key, value in env.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        table.add_row(key, str(value) if value not in ("", None) else "-")
    console = Console()
    console.print(table)
    checks = environment_checks(env) + (check_artifact(artifact, env) if artifact is not None else [])
    colour = {"ok": "green", "warn": "yellow", "error": "red"}
    for c in checks:
        console.print(f"[{colour[c.level]}]{c.level}[/]: {c.message}", soft_wrap=True)
    if any(c.level == "error" for c in checks):
        raise typer.Exit(1)


@app.command()
@friendly
def bench(
    artifacts: list[str] = typer.Argument(..., help="Checkpoints, .onnx (FP32/FP16/INT8) and .engine files."),
    data: str = typer.Option("synthetic", "--data", help="synthetic (held-out photos, val split), a dataset name "
                             "(lasot, got10k_val, ...), a video file or a folder (GOT-10k layout or images)."),
    root: Optional[str] = typer.Option(None, "--root", help="Dataset root (synthetic: where the set is cached)."),
    reference: Optional[str] = typer.Option(None, "--reference", help="PyTorch checkpoint to compare with (default: "
                                            "each artifact's own checkpoint, found by the sha256 in its metadata)."),
    max_auc_drop: Optional[float] = typer.Option(None, "--max-auc-drop", help="Gate: largest AUC drop vs the "
                                                 "reference in points (default 0.1 FP32, 0.5 FP16, 1.0 INT8)."),
    min_fps: Optional[float] = typer.Option(None, "--min-fps", help="Gate: smallest end-to-end FPS."),
    output: Path = typer.Option(Path("out/bench"), "--output", "-o", help="Folder for bench.json, bench.md, plots."),
    sequences: Optional[int] = typer.Option(None, "--sequences", help="Use the first N sequences (synthetic: "
                                            "generate N; default 8)."),
    frames: Optional[int] = typer.Option(None, "--frames", help="Use the first M frames of each sequence "
                                         "(synthetic: default 40)."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda"),
    init: Optional[str] = typer.Option(None, "--init", help="x,y,w,h first-frame box for a video/folder without "
                                       "ground truth (scored against the reference tracker's boxes)."),
    config: Optional[str] = typer.Option(None, "--config", help="Config name for official checkpoints."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: all usable cores)."),
) -> None:
    """Latency and accuracy parity of deployment artifacts vs PyTorch on the same frames; exit 1 if a gate fails."""
    import os
    import shlex
    import sys

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")   # FFmpeg's own log lines; our errors say what failed
    from rich.console import Console

    from droptrack.eval.bench import BenchOptions, check_gates, run_bench
    from droptrack.eval.bench_report import bench_table, summary_lines

    report = run_bench(BenchOptions(artifacts=artifacts, data=data, root=root, reference=reference,
                                    max_auc_drop=max_auc_drop, min_fps=min_fps, output_dir=output,
                                    sequences=sequences, frames=frames, device=device, config=config, init=init,
                                    threads=threads, command=shlex.join(["dt", *sys.argv[1:]])))
    console = Console(width=max(Console().width, 160))
    console.print(bench_table(report))
    for line in summary_lines(report):
        console.print(line, soft_wrap=True, highlight=False)
    check_gates(report)


@app.command()
@friendly
def demo(
    output: Path = typer.Option(Path("droptrack-demo"), "--output", "-o", help="Folder for everything the demo "
                                "writes."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Checkpoint to demo (default: the "
                                              "embedded model)."),
    sequences: int = typer.Option(6, "--sequences", help="Synthetic benchmark sequences."),
    frames: int = typer.Option(40, "--frames", help="Frames per synthetic sequence."),
    video_frames: int = typer.Option(55, "--video-frames", help="Frames of the real video to track."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for the bench (default: all usable "
                                          "cores; 1 is faster on a busy machine)."),
) -> None:
    """Synthetic benchmark, ONNX FP32/FP16/INT8 export, dt bench of all forms, tracking of a real video."""
    from rich.console import Console

    from droptrack.demo import run_demo
    from droptrack.eval.bench_report import bench_table

    console = Console(width=max(Console().width, 160))
    res = run_demo(output, checkpoint, sequences, frames, video_frames,
                   log=lambda s: console.print(s, highlight=False, soft_wrap=True), threads=threads)
    console.print(bench_table(res.bench))
    b = res.bench.output_dir
    lines = [*(f"{r.name}: {r.status.replace('_', ' ')}: {r.reason}" for r in res.bench.rows if r.reason),
             *res.notes, f"report: {b / 'bench.md'} (json: {b / 'bench.json'})",
             "plots: " + "  ".join(str(b / p) for p in res.bench.plots.values())]
    if res.video is not None:
        s = res.video_summary
        lines += [f"video: {res.video} ({s.frames} frames, {s.fps:.1f} FPS with {Path(res.video_model).name})",
                  f"strip: {res.strip}  boxes: {res.boxes}"]
    lines.append("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in res.timings.items()))
    lines.append(f"next: dt bench {' '.join(r.artifact for r in res.bench.rows)} --data VIDEO --init x,y,w,h")
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
