"""`dt` data synth and train."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from droptrack.cli.app import app, data_app, friendly

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
