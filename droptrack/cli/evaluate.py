"""`dt` eval, analyze and bench: accuracy and speed."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from droptrack.cli.app import CONFIG_OPTION, TRUST_OPTION, app, friendly
from droptrack.cli.ext_options import extension_options
from droptrack.errors import InputError, OutputFull, print_plain, printable, shell_join

@app.command("eval")
@friendly
@extension_options
def eval_(
    dataset: str = typer.Option(..., "--dataset", help="Dataset name, e.g. lasot, otb, uav, got10k_val, trackingnet, "
                                "synth; video or folder: --root is a clip (boxes in CLIP.txt beside it) or a frame "
                                "folder (boxes in its groundtruth.txt), or a folder of them."),
    root: Optional[Path] = typer.Option(None, "--root", help="Dataset root (default: DT_DATA_<NAME> or DT_DATA).",
                                        readable=False),
    split: Optional[str] = typer.Option(None, "--split", help="Dataset split, where the dataset has several."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "--model", "-m", help="Checkpoint (.pt/.pth.tar/"
                                              ".safetensors), .onnx or .engine (default: the embedded model).",
                                              readable=False),
    tracker: Optional[str] = typer.Option(None, "--tracker", help="A classic OpenCV tracker instead of a model: "
                                          "csrt, kcf, mil, mosse or medianflow."),
    config: Optional[str] = CONFIG_OPTION,
    workers: int = typer.Option(1, "--workers", help="Parallel worker processes, one model each."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads per worker (default: "
                                          "OMP_NUM_THREADS if set, else 1 for small models, else cores / workers; "
                                          "never more than the cores). A resumed run keeps the count its results "
                                          "were tracked with, whatever --workers (another count can change the last "
                                          "bits of boxes); another --threads there is refused."),
    sequences: Optional[str] = typer.Option(None, "--sequences", help="Comma-separated sequence names."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Results folder (default: results/<dataset>, "
                                          "results/<dataset>_<split> with --split, e.g. results/got10k_test); files "
                                          "go to OUTPUT/<tracker>/ (one split's results each).", readable=False),
    name: Optional[str] = typer.Option(None, "--name", help="Tracker folder name (default: the artifact's "
                                     "stem, 'default' for the embedded model or the --tracker name, + the "
                                     "extension and --realtime-fps settings, e.g. default+crop_grid=0.1)."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda"),
    realtime_fps: Optional[float] = typer.Option(None, "--realtime-fps", help="Latency-aware evaluation: frames "
                                                 "arrive at this rate, the tracker skips those that come while it "
                                                 "is busy, and each frame is scored with the newest box finished by "
                                                 "then (LAE / streaming perception); measured latency needs --workers 1."),
    latency_ms: Optional[float] = typer.Option(None, "--latency-ms", help="With --realtime-fps: a fixed latency "
                                               "per processed frame (e.g. dt bench's on the target device) instead "
                                               "of the time measured here."),
    predict: bool = typer.Option(False, "--predict", help="With --realtime-fps: move each reported box to the "
                                 "frame's time at the constant velocity of the last two processed boxes."),
    trust_checkpoint: bool = TRUST_OPTION,
    ext: Optional[dict] = None,   # the extension options' TEST keys (extension_options)
) -> None:
    """Run a tracker over a benchmark in parallel; write official result files; resumable; print the scores.

    Examples:
      dt eval --dataset lasot --root /data/lasot -m model.onnx --workers 4
      dt eval --dataset synth --root HELDOUT/ --tracker csrt
    """
    from rich.console import Console

    from droptrack.eval.attributes_view import print_items
    from droptrack.eval.bench_data import eval_split_note
    from droptrack.eval.realtime import RealTime
    from droptrack.eval.run import evaluate_dataset
    from droptrack.eval.run_result import summary_lines
    from droptrack.signals import stop_signals

    names = [s.strip() for s in sequences.split(",") if s.strip()] if sequences is not None else None
    if (latency_ms is not None or predict) and realtime_fps is None:
        raise InputError(f"{'--latency-ms' if latency_ms is not None else '--predict'} needs --realtime-fps (the "
                         "stream's frame rate), e.g. --realtime-fps 30")
    realtime = RealTime(realtime_fps, latency_ms, predict) if realtime_fps is not None else None
    try:
        with stop_signals():   # also SIGINT / SIGTERM inherited as ignored (a `&` job of a script): held for it
            result = evaluate_dataset(dataset, checkpoint, root=root, split=split, names=names, output_dir=output,
                                      workers=workers, threads=threads, device=device, config=config, name=name,
                                      tracker=tracker, ext=ext, realtime=realtime,
                                      trust=trust_checkpoint, notes=True)   # dt run's extension-settings warnings
    except KeyboardInterrupt as exc:   # SIGTERM too (eval's loop raises it as Stopped): 143
        from droptrack.eval.resume import interrupted_line

        typer.echo(printable(interrupted_line(exc)), err=True)   # how many sequences are saved, and where
        raise typer.Exit(128 + getattr(exc, "signum", 2)) from None
    except OutputFull as exc:   # the finished sequences are kept: say how to go on
        raise OutputFull(f"{exc}; once there is room, run the same command to resume") from None
    console = Console()
    print_items(console, summary_lines(result))   # as dt analyze: a table too wide for the terminal is not cut
    model = tracker or (str(checkpoint) if checkpoint is not None else None)   # what was scored: named in the note
    note = eval_split_note(dataset, root, split, model, classic=tracker is not None)   # a synthetic train set
    if note:   # it names the set's folder: a name from elsewhere stays on its line
        print_plain(console, note)
    if result.report is not None:   # scored: compare it with other trackers' folders
        from droptrack.data.registry import canonical, resolve_root

        where = root or resolve_root(canonical(dataset)[0], root)   # DT_DATA_LASOT=... dt eval: not set for the next
        from droptrack.eval.resume import comparable_folders

        others = [str(d) for d in comparable_folders(result.output_dir, result.sequences)]   # e.g. --tracker csrt's
        cmd = ["dt", "analyze", str(result.output_dir), *others, "--dataset", dataset, "--root", str(where),
               *(["--split", split] if split else []), *(["--sequences", ",".join(names)] if names else [])]
        print_plain(console, f"next: {shell_join(cmd)}")


@app.command()
@friendly
def analyze(
    result_dirs: list[Path] = typer.Argument(..., help="One result folder per tracker (<seq>.txt files).",
                                             readable=False),
    dataset: str = typer.Option(..., "--dataset", help="Dataset name, e.g. lasot, otb, uav, got10k_val."),
    root: Optional[Path] = typer.Option(None, "--root", help="Dataset root (default: DT_DATA_<NAME> or DT_DATA).",
                                        readable=False),
    split: Optional[str] = typer.Option(None, "--split", help="Dataset split, where the dataset has several."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Folder for report.json and plots "
                                          "(default: analysis/<dataset>, with --split analysis/<dataset>_<split>; a "
                                          "report of other result folders there is not replaced unless --output "
                                          "names it).", readable=False),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="ostrack-ope, pytracking-ope, got10k-toolkit "
                                           "or trackingnet-devkit (default: the dataset's own toolkit)."),
    attributes: Optional[Path] = typer.Option(None, "--attributes", help="Folder of LaSOT or UAV123 attribute files "
                                              "(<seq>.txt: 14 or 12 comma-separated 0/1); default: the dataset's "
                                              "own att/ folder.", readable=False),
    sequences: Optional[str] = typer.Option(None, "--sequences", help="Comma-separated sequence names: score only "
                                            "those (as dt eval --sequences tracked them)."),
    per_sequence: bool = typer.Option(False, "--per-sequence", help="Also print every sequence's headline score "
                                      "(AUC, AO) for every tracker (report.json: per_sequence holds every score)."),
) -> None:
    """Score trackers' result folders against a dataset: tables, report.json and plots.

    Tables: overall, per attribute, the largest per-sequence gaps (--per-sequence: every sequence); plots: success,
    precision, normalized precision, per attribute.

    Examples:
      dt analyze results/lasot/model results/lasot/csrt --dataset lasot --root /data/lasot
    """
    from rich.console import Console

    from droptrack import filelock
    from droptrack.eval.attributes_view import print_items, sequence_table
    from droptrack.eval.report import analyze_dataset
    from droptrack.eval.report_plots import analyze_stopped_line, check_analysis_folder, check_default_analysis
    from droptrack.eval.report_view import attribute_lines, report_table
    from droptrack.eval.result_dirs import analyze_options
    from droptrack.eval.resume import LOCK
    from droptrack.imagefiles import holds_sequences
    from droptrack.signals import stop_signals

    swapped = next((d for d in result_dirs if holds_sequences(Path(d).expanduser())), None)
    if swapped is not None:   # `dt analyze DATASET --root RESULTS` said only 'no sequences to score'
        raise InputError(f"'{swapped}' holds a dataset (list.txt or sequence folders with groundtruth.txt), not a "
                         "tracker's result files: swapped with --root? pass the result folder (<sequence>.txt files) "
                         "as RESULT_DIR and the dataset folder as --root")
    if attributes is not None and not attributes.is_dir():
        raise InputError(f"--attributes {attributes} is not a folder; pass the folder holding <sequence>.txt files")
    from droptrack.data.registry import named_split, output_name

    default = output is None   # one folder per dataset (and --split, or the split folder --root is): another
    output = output or Path("analysis") / output_name(dataset, named_split(dataset, root, split))   # comparison's kept
    check_analysis_folder(output)
    if default:
        check_default_analysis(output, result_dirs, dataset)
    names = [n.strip() for n in sequences.split(",") if n.strip()] if sequences is not None else None
    try:
        with stop_signals():   # SIGTERM / SIGHUP as Ctrl-C: the line below, as dt eval says it
            report = analyze_dataset(result_dirs, dataset, root=root, split=split, output_dir=output,
                                     protocol=protocol, attributes_dir=attributes, names=names,
                                     recheck=(lambda: check_default_analysis(output, result_dirs, dataset))
                                     if default else None,   # two at once: the later one was not refused
                                     options=analyze_options(dataset, root, split, protocol, attributes, sequences,
                                                             None if default else output, per_sequence))
    except KeyboardInterrupt as exc:
        typer.echo(analyze_stopped_line(exc, output), err=True)
        raise typer.Exit(128 + getattr(exc, "signum", 2)) from None
    print_items(Console(), [report_table(report), *attribute_lines(report)]
                + ([sequence_table(report)] if per_sequence else []))
    for d in result_dirs:   # its missing sequences are not yet tracked, not left out
        if filelock.in_use(Path(d).expanduser() / LOCK):
            typer.echo(f"note: {printable(d)} is still being written (a dt eval or dt bench holds its lock): the "
                       "report covers the sequences finished so far; analyze again once it ends", err=True)
    typer.echo(f"report: {printable(report.output_dir / 'report.json')}")   # control characters escaped
    if report.plots:   # drawn beside report.json: success, precision, normalized precision, per attribute
        typer.echo("plots: " + "  ".join(printable(report.output_dir / name) for name in report.plots.values()))


@app.command()
@friendly
@extension_options
def bench(
    artifacts: Optional[list[str]] = typer.Argument(None, help="Checkpoints (.pt/.pth.tar/.safetensors), .onnx "
                                                    "(FP32/FP16/INT8) and .engine files."),
    tracker: Optional[list[str]] = typer.Option(None, "--tracker", help="Also bench a classic OpenCV tracker: csrt, "
                                                "kcf, mil, mosse or medianflow (repeatable or comma-separated)."),
    data: str = typer.Option("synthetic", "--data", help="synthetic (held-out photos, val split), a dataset name "
                             "(lasot, got10k_val, ...), a video file or a folder (GOT-10k layout or images)."),
    root: Optional[str] = typer.Option(None, "--root", help="Dataset root (synthetic: where the set is cached)."),
    reference: Optional[str] = typer.Option(None, "--reference", help="PyTorch checkpoint to compare with (default: "
                                            "each artifact's own checkpoint, found by the sha256 in its metadata)."),
    max_auc_drop: Optional[float] = typer.Option(None, "--max-auc-drop", help="Gate: largest AUC drop vs the "
                                                 "reference in points that the ΔAUC 95% interval may allow (default "
                                                 "0.1 FP32, 0.5 FP16, 1.0 INT8)."),
    max_divergence: Optional[float] = typer.Option(None, "--max-divergence", help="Gate: largest share of frames "
                                                   "whose box has IoU < 0.5 with the reference's (default 0.01 "
                                                   "FP32/FP16, 0.03 INT8)."),
    min_fps: Optional[float] = typer.Option(None, "--min-fps", help="Gate: smallest end-to-end FPS."),
    output: Path = typer.Option(Path("out/bench"), "--output", "-o", help="Folder for bench.json, bench.md, plots.",
                                readable=False),
    sequences: Optional[int] = typer.Option(None, "--sequences", help="Use the first N sequences (synthetic: "
                                            "generate N; default 8)."),
    frames: Optional[int] = typer.Option(None, "--frames", help="Use the first M frames of each sequence "
                                         "(synthetic: default 40)."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda"),
    init: Optional[str] = typer.Option(None, "--init", help="x,y,w,h first-frame box for a video/folder without "
                                       "ground truth (scored against the reference tracker's boxes)."),
    config: Optional[str] = CONFIG_OPTION,
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: OMP_NUM_THREADS if set, "
                                          "else 1 for small models, else all usable cores)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted bench in the same --output: each "
                                "row keeps the sequences it finished (checked before any row runs: they must come "
                                "from the same artifact, settings and frames); latency is measured again."),
    noise_floor: Optional[float] = typer.Option(None, "--noise-floor", help="Also track each reference again with "
                                                "N(0, PX) pixels added to its state after every frame (e.g. 0.01) "
                                                "and report how often that alone diverges from its own boxes: the "
                                                "tracking loop's noise floor beside the rows' divergence (not "
                                                "gated; CPU)."),
    trust_checkpoint: bool = TRUST_OPTION,
    ext: Optional[dict] = None,   # the extension options' TEST keys (extension_options)
) -> None:
    """Latency and accuracy parity of deployment artifacts vs PyTorch on the same frames; exit 1 if a gate fails.

    Examples:
      dt bench deploy/model.onnx deploy/model_fp16.onnx deploy/model_int8_ort.onnx --tracker csrt
      dt bench model.onnx --reference final.pt --data got10k_val --root /data/got10k --max-auc-drop 0.5
    """
    import shlex
    import sys

    from droptrack.eval.bench import BenchOptions, check_gates, run_bench
    from droptrack.eval.bench_view import bench_table, next_command, summary_lines, table_console

    from droptrack.signals import stop_signals

    from droptrack.geometry import placeholder_box

    if init is not None and placeholder_box(init):   # dt demo's next line, pasted as it reads
        raise InputError(placeholder_box(init))
    trackers = [t.strip() for v in tracker or [] for t in v.split(",") if t.strip()]
    try:
        with stop_signals():   # SIGTERM / SIGHUP as Ctrl-C: the line below, not a silent exit that keeps .lock
            report = run_bench(BenchOptions(artifacts=list(artifacts or []), trackers=trackers, data=data,
                                            root=root, reference=reference, max_auc_drop=max_auc_drop,
                                            max_divergence=max_divergence, min_fps=min_fps, output_dir=output,
                                            sequences=sequences, frames=frames, device=device, config=config,
                                            init=init, threads=threads, command=shlex.join(["dt", *sys.argv[1:]]),
                                            ext=ext, resume=resume, trust_checkpoint=trust_checkpoint,
                                            noise_floor=noise_floor))
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", 2)
        what = f"stopped by {exc}" if signum != 2 else "interrupted"
        if not Path(output).exists():   # stopped before any file: the folder it made was removed again
            typer.echo(f"{what} before any sequence was saved: nothing saved; run the same command to start", err=True)
        else:
            typer.echo(f"{what}: finished sequences are saved in {printable(output)}; run the same command with "
                       "--resume to continue", err=True)
        raise typer.Exit(128 + signum) from None
    table = bench_table(report)
    console = table_console(table)
    console.print(table)
    for line in summary_lines(report):
        print_plain(console, line)
    nxt = next_command(report)
    if nxt is not None:
        print_plain(console, f"next: {nxt}")
    check_gates(report)
