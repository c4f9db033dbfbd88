"""`dt` export and doctor: deployment artifacts and the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from droptrack.cli.app import TRUST_OPTION, app, friendly

@app.command("export")
@friendly
def export_(
    checkpoint: Optional[str] = typer.Argument(None, help="Checkpoint (.pt / .pth.tar / .safetensors; default: the "
                                               "embedded model), or an exported .onnx to (re)build only its engine "
                                               "with --engine."),
    config: Optional[str] = typer.Option(None, "--config", help="Config name or YAML: the config of an official "
                                         "checkpoint; for a dt train checkpoint it replaces the saved one (e.g. "
                                         "TEST keys such as CROP_GRID for the graphs' metadata)."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset: 17 (LayerNormalization) up to the newest the "
                                                  "installed torch exports (at most 20 with --int8's trt target)."),
    output: Path = typer.Option(Path("out/export"), "--output", "-o", help="Output folder (not used with an .onnx "
                                                                           "CHECKPOINT: its engine goes next to it).",
                                                                           readable=False),
    fp16: bool = typer.Option(False, "--fp16", help="Also write model_fp16.onnx (FP32 islands, float32 I/O)."),
    ort: bool = typer.Option(False, "--ort", help="Also write model_ort.onnx: FP32 for ONNX Runtime (CPU or CUDA, not "
                             "TensorRT), a frame's search crops in one call and each attention block without "
                             "candidate elimination as one fused node; the same outputs, 1.08-1.17x faster on one "
                             "CPU thread with the scale settings it was exported for (docs/export.md)."),
    int8: bool = typer.Option(False, "--int8", help="Also write the INT8 graphs: model_int8_trt.onnx (TensorRT: "
                              "symmetric Q/DQ on FP16) and model_int8_ort.onnx (ONNX Runtime CPU: U8S8)."),
    precision: list[str] = typer.Option([], "--precision", help="fp32 | fp16 | int8, comma-separated or repeated "
                                        "(same as --fp16 / --int8)."),
    calib: Optional[str] = typer.Option(None, "--calib", help="INT8 calibration data: synth (default), photos, "
                                        "NAME[:ROOT] of a dataset (e.g. got10k:/data/got10k), or a folder of frames / "
                                        "a video / a folder of videos with its ground truth (clip.txt beside "
                                        "clip.mp4)."),
    calib_pairs: int = typer.Option(32, "--calib-pairs", help="Template/search pairs for INT8 calibration."),
    calib_method: str = typer.Option("minmax", "--calib-method", help="INT8 calibration of the TensorRT graph: "
                                     "minmax | percentile | entropy (ONNX Runtime's graph is dynamic, uncalibrated)."),
    int8_target: str = typer.Option("trt,ort", "--int8-target", help="INT8 graphs to write: trt, ort or trt,ort (both)."),
    auto_precision: bool = typer.Option(False, "--auto-precision", help="INT8: keep the layer groups that make "
                                        "tracking diverge in FP16/FP32, chosen on validation sequences; a choice "
                                        "whose graph fails the parity check is not taken (a note names it)."),
    val: Optional[str] = typer.Option(None, "--val", help="Validation data for --auto-precision (default: a "
                                      "synthetic val split, seed 1; or a folder / video as in dt bench --data, or a "
                                      "dataset NAME[:ROOT], e.g. got10k_val:/data/got10k)."),
    val_sequences: int = typer.Option(40, "--val-sequences", help="Synthetic validation sequences."),
    val_frames: int = typer.Option(40, "--val-frames", help="Frames per validation sequence."),
    max_divergence: float = typer.Option(0.03, "--max-divergence", help="--auto-precision limit: share of frames "
                                         "whose box has IoU < 0.5 with the FP32 graph's."),
    group_by: str = typer.Option("layer", "--group-by", help="--auto-precision groups: layer (block3.qkv, ...) or "
                                 "kind (qkv/attn/proj/mlp in every block, patch_embed, head; fewer trials)."),
    int8_keep: list[str] = typer.Option([], "--int8-keep", help="INT8: the layer groups kept in high precision, "
                                        "e.g. a kept set that --auto-precision reported ('block1.mlp,block0.proj'), "
                                        "without searching again; 'none' quantizes every group. Replaces the "
                                        "target's defaults (trt: patch_embed,head,attn; ort: none)."),
    keep_fp32: list[str] = typer.Option([], "--keep-fp32", help="FP16 graph and the TensorRT INT8 graph's FP16 "
                                        "base: also keep the nodes whose name matches this regular expression in FP32 "
                                        "(repeatable; e.g. '/box_head/' or 'blocks\\.0/'), as Polygraphy's "
                                        "--layer-precisions by name."),
    engine: bool = typer.Option(False, "--engine", help="Build TensorRT engines (needs TensorRT 10 or 11 and a CUDA "
                                "GPU, else refused before any work): of the FP16 and TensorRT INT8 graphs, of "
                                "model.onnx only when neither is asked."),
    workspace: float = typer.Option(4.0, "--workspace", help="TensorRT workspace limit in GB."),
    trt_typing: str = typer.Option("strong", "--trt-typing", help="strong (precision from the graph; TensorRT 10 "
                                   "and 11) or flags (TensorRT 10 builder flags; weak typing, deprecated since "
                                   "TensorRT 10.12, removed in 11)."),
    trust_checkpoint: bool = TRUST_OPTION,
    overwrite: bool = typer.Option(False, "--overwrite", help="With --engine: replace an engine file of a name it "
                                   "builds (beside an .onnx CHECKPOINT, or in --output) that droptrack did not build "
                                   "from that graph (e.g. trtexec's; else refused before any work)."),
    safetensors: bool = typer.Option(False, "--safetensors", help="Also write model.safetensors: the FP32 weights "
                                     "(tensors only, never code) with the config in the file's metadata, so it "
                                     "loads wherever a checkpoint does without --config."),
) -> None:
    """Export verified ONNX graphs (FP32, FP16, INT8) and TensorRT engines, with parity against PyTorch.

    Examples:
      dt export runs/mine/final.pt --fp16 --int8 -o deploy/
      dt export --ort -o cpu/
      dt export deploy/model_fp16.onnx --engine
      dt export --safetensors -o emb
    """
    from rich.console import Console

    from droptrack.signals import import_torch

    import_torch()   # first: a stop while torch starts comes after it (signals.import_torch), not as an abort
    from droptrack.export.parity import parity_table
    from droptrack.export.pipeline import ParityError, export_all
    from droptrack.export.report import interrupted_line, mixed_checkpoints, next_commands, notes, summary_table
    from droptrack.signals import stop_signals
    from droptrack.errors import print_plain, shell_quote

    from droptrack.artifact import artifact_format, content_problem
    from droptrack.errors import CheckpointError
    from droptrack.export.auto_precision import Int8Options
    from droptrack.export.groups import parse_int8_keep

    if checkpoint is not None and artifact_format(checkpoint) == "torch":   # CHECKPOINT may be left out: say so
        try:
            problem = content_problem(checkpoint)   # e.g. `dt export clip.avi`
        except OSError:   # unreadable: loading it names the problem (permissions, a folder, ...)
            problem = None
        if problem:
            raise CheckpointError(f"checkpoint {problem}, or leave CHECKPOINT out to export the default model")
    precs = list(precision) + (["fp16"] if fp16 else []) + (["int8"] if int8 else [])
    int8_options = Int8Options(calib_method, tuple(t.strip() for t in int8_target.split(",") if t.strip()),
                               auto_precision, val, val_sequences, val_frames, max_divergence, group_by,
                               parse_int8_keep(int8_keep), progress=True)
    err = Console(stderr=True)
    out = Console(width=max(Console().width, 132))   # tables stay readable in logs and narrow terminals
    failed = None
    try:
        with stop_signals():   # SIGTERM / SIGHUP as Ctrl-C, and SIGINT / SIGTERM inherited as ignored (held for it)
            report = export_all(checkpoint, config, output, opset, precs, calib, calib_pairs, engine, workspace,
                                trt_typing, int8_options=int8_options,
                                log=lambda s: print_plain(err, s),   # paths: text, each line on one line
                                trust=trust_checkpoint, keep_fp32=tuple(keep_fp32), safetensors=safetensors,
                                overwrite=overwrite, ort=ort)
    except ParityError as exc:
        if exc.report is None:
            raise
        report, failed = exc.report, exc
    except KeyboardInterrupt as exc:   # written files are whole (atomic); the precision search has a journal
        graph = checkpoint is not None and checkpoint.lower().endswith(".onnx")   # as export_all tells the paths
        signum = getattr(exc, "signum", 2)
        line = interrupted_line(graph, engine, auto_precision, saved=graph or Path(output).expanduser().is_dir())
        line += "" if graph else mixed_checkpoints(output)
        typer.echo(line if signum == 2 else line.replace("interrupted", f"stopped by {exc}", 1), err=True)
        raise typer.Exit(128 + signum) from None
    for r in report.results:
        if r.parity is not None:
            out.print(parity_table(r.parity))
    out.print(summary_table(report))
    for line in notes(report):
        print_plain(out, f"note: {line}")   # names files there
    if failed is not None:
        raise failed
    gates = [r.gate for r in report.results if r.gate]
    if gates:   # a gate, as dt bench's: the graph is there to inspect, and a script sees exit 1
        print_plain(err, f"error: {gates[0]}")
        raise typer.Exit(1)
    from droptrack.paths import same_file

    ref = []   # dt bench finds a graph's checkpoint beside it or embedded, not runs/mine/final.pt: name it
    if checkpoint is None or not checkpoint.lower().endswith(".onnx"):
        if checkpoint is not None and not same_file(Path(checkpoint).expanduser().parent, report.output_dir):
            ref += ["--reference", checkpoint]
        # the reference (the embedded model too) tracks with the config the graphs carry, else bench refuses them
        ref += ["--config", config] if config else []
        if checkpoint is not None and trust_checkpoint and not checkpoint.lower().endswith(".safetensors"):
            ref += ["--trust-checkpoint"]   # bench loads that pickle too
    for cmd in next_commands(report):
        cmd += "".join(f" {shell_quote(w)}" for w in ref) if cmd.startswith("dt bench") else ""
        print_plain(out, f"next: {cmd}")   # paths are not rich markup


@app.command()
@friendly
def doctor(
    artifact: Optional[Path] = typer.Argument(None, help="Checkpoint (.pt/.pth.tar/.safetensors), .onnx or .engine to "
                                              "check against this machine.", readable=False),
    config: Optional[str] = typer.Option(None, "--config", help="Config of a checkpoint that carries none (a "
                                         ".safetensors file; official ones are inferred), as dt run --config."),
    workers: int = typer.Option(1, "--workers", help="Worker processes you plan to run (dt eval --workers): warns "
                                "when OMP_NUM_THREADS x workers exceeds the usable cores."),
    trust_checkpoint: bool = TRUST_OPTION,
) -> None:
    """Print the environment (torch, ONNX Runtime, TensorRT, CUDA, GPU, Jetson) and check an artifact against it.

    Without an artifact: which kinds of model this machine runs, on which devices. An engine, or the graph it was
    built from, is also checked for a graph changed since the build (a stale engine) and an unchecked build beside it.

    Examples:
      dt doctor
      dt doctor deploy/model_fp16.engine --workers 4
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from droptrack.errors import InputError, printable

    if workers < 1:
        raise InputError(f"--workers {workers}: use 1 or more")
    if artifact is not None and not artifact.exists():   # bad input (exit 2), not a failed check (exit 1)
        from droptrack.runtime.checks import missing_note

        raise InputError(f"ARTIFACT '{artifact}' does not exist; pass a checkpoint, .onnx or .engine file"
                         f"{missing_note(artifact)}")
    if config is not None and artifact is None:
        raise InputError("--config applies to a checkpoint ARTIFACT; pass one (dt doctor MODEL.safetensors --config "
                         "NAME) or drop --config")
    if trust_checkpoint and artifact is None:
        raise InputError("--trust-checkpoint applies to a checkpoint ARTIFACT; pass one (dt doctor CKPT.pth.tar "
                         "--trust-checkpoint) or drop --trust-checkpoint")
    if artifact is not None:   # a folder (naming the models in it) or a file of another kind: as dt run says it
        from droptrack.runtime.checks import check_artifact as check_kind, check_model_options

        check_kind(str(artifact))
        check_model_options(str(artifact), config, trust_checkpoint)
    if config is not None:   # an unknown name is bad input (exit 2), not a failed check
        from droptrack.config import load_config

        load_config(config)
    from droptrack.engine.doctor import check_artifact, environment, environment_checks, machine_verdict

    env = environment()
    # before the table: a checkpoint or graph dt run refuses as bad input is one error line (exit 2) here too
    verdict = ([machine_verdict(env)] if artifact is None
               else check_artifact(artifact, env, config, trust_checkpoint))
    if artifact is None:   # what dt run, serve and eval run without --model, here
        from droptrack.engine.doctor import Check
        from droptrack.runtime.build import embedded_runs_on, resolve_device

        verdict.insert(0, Check("ok", "a run without a model file (dt run, serve, eval) runs the embedded model in "
                                      + embedded_runs_on(resolve_device(None, None))))   # the machine's verdict last
    table = Table(title="dt doctor", show_header=False)
    for key, value in env.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        table.add_row(key, Text(printable(value) if value not in ("", None) else "-"))
    console = Console()
    console.print(table)
    checks = environment_checks(env, workers) + verdict
    colour = {"ok": "green", "warn": "yellow", "error": "red"}
    for c in checks:
        # messages name files and their metadata: plain text (no rich markup), control characters escaped
        console.print(Text.assemble((c.level, colour[c.level]), ": " + printable(c.message)), soft_wrap=True)
    if any(c.level == "error" for c in checks):
        raise typer.Exit(1)
