"""The epoch loop: progress bar, NaN guard, checkpoints every K epochs, validation AUC, TensorBoard."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from droptrack.config import save_config
from droptrack.errors import TrainingError
from droptrack.model import build_model
from droptrack.model.checkpoint import load_pretrained, save_checkpoint
from droptrack.train.data import EpochBatchSampler, PairDataset, load_datasets, parse_data_roots
from droptrack.train.loss import tracking_loss
from droptrack.train.optim import build_optimizer, ce_keep_rate, reference_batch, scaled_lr
from droptrack.train.processing import Processing
from droptrack.train.trainer import TrainOptions, _checkpoint_state, _prune, _resume, prepare, setup_dist


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError("--device cuda requested but CUDA is not available; use --device cpu")
    return torch.device(name)


def _say(opts: TrainOptions, dist, msg: str) -> None:
    if dist.main and not opts.quiet:
        from rich.console import Console

        Console(stderr=True).print(msg)


def _tensorboard(output: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard is optional
        return None
    return SummaryWriter(str(output / "tb"))


def run_training(opts: TrainOptions) -> Path:
    """Train per the config and options; rank 0 writes checkpoints, config and logs under opts.output."""
    cfg = prepare(opts)
    dev = _device(opts.device)
    dist = setup_dist(str(dev))
    if dev.type == "cuda":
        dev = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(dev)
    output = Path(opts.output)
    if output.exists() and not output.is_dir():
        raise TrainingError(f"--output '{output}' is a file; pass a directory")
    if opts.threads:
        torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed + dist.rank)
    model = build_model(cfg, training=True)
    if opts.pretrained:
        rep = load_pretrained(model, opts.pretrained)
        _say(opts, dist, f"pretrained: {len(rep.missing)} missing, {len(rep.dropped)} dropped, "
                         f"{len(rep.unexpected)} unexpected keys")
    elif dist.main and not opts.resume:
        _say(opts, dist, "[yellow]no --pretrained weights: training from scratch[/]")
    global_batch = cfg.TRAIN.BATCH_SIZE * dist.world
    lr = scaled_lr(cfg, global_batch)
    if global_batch != reference_batch(cfg):
        _say(opts, dist, f"global batch {global_batch} != reference {reference_batch(cfg)}: "
                         f"LR scaled linearly {cfg.TRAIN.LR:g} -> {lr:g}")
    model.to(dev)
    opt, sched = build_optimizer(model, cfg, lr)
    start_epoch, history = 1, []
    last = output / "last.pt"
    if opts.resume and last.exists():
        start_epoch, history = _resume(last, model, opt, sched)
        start_epoch += 1
        _say(opts, dist, f"resumed from {last} at epoch {start_epoch}")
    elif opts.resume:
        _say(opts, dist, f"[yellow]--resume: no {last} yet, starting fresh[/]")
    if dist.main:
        output.mkdir(parents=True, exist_ok=True)
        save_config(cfg, output / "config.yaml")
    roots = parse_data_roots(opts.data)
    datasets = load_datasets(cfg.DATA.TRAIN.DATASETS_NAME, roots)
    dataset = PairDataset(datasets, cfg.DATA.TRAIN.DATASETS_RATIO, cfg.DATA.MAX_SAMPLE_INTERVAL,
                          Processing.from_config(cfg), opts.seed)
    net = model
    if dist.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True,
                                                        device_ids=[dev.index] if dev.type == "cuda" else None)
    iterations = cfg.DATA.TRAIN.SAMPLE_PER_EPOCH // global_batch
    if opts.max_iters:
        iterations = min(iterations, opts.max_iters)
    if iterations < 1:
        raise TrainingError(f"SAMPLE_PER_EPOCH {cfg.DATA.TRAIN.SAMPLE_PER_EPOCH} < global batch {global_batch}; "
                            "raise --samples-per-epoch or lower --batch-size")
    workers = cfg.TRAIN.NUM_WORKER if opts.workers is None else opts.workers
    writer = _tensorboard(output) if dist.main else None
    bb = cfg.MODEL.BACKBONE
    has_ce = bool(bb.CE_LOC) and bb.TYPE.endswith("_ce")
    val_every = opts.val_every or cfg.TRAIN.VAL_EPOCH_INTERVAL
    for epoch in range(start_epoch, cfg.TRAIN.EPOCH + 1):
        keep = ce_keep_rate(epoch, cfg.TRAIN.CE_START_EPOCH, cfg.TRAIN.CE_WARM_EPOCH, bb.CE_KEEP_RATIO[0]) \
            if has_ce else None
        loader = DataLoader(dataset, batch_sampler=EpochBatchSampler(epoch, iterations, cfg.TRAIN.BATCH_SIZE,
                                                                     dist.rank, dist.world),
                            num_workers=workers, persistent_workers=False)
        stats = train_epoch(net, model, loader, opt, cfg, dev, epoch, keep, opts, dist, output)
        sched.step()
        stats.update({"epoch": epoch, "lr": opt.param_groups[0]["lr"], "keep_rate": keep})
        if dist.main and (epoch % val_every == 0 or epoch == cfg.TRAIN.EPOCH) and opts.val_data:
            from droptrack.train.validate import validation_auc

            stats["val_auc"] = validation_auc(model, cfg, opts.val_data, opts.val_sequences)
            model.train()
            _say(opts, dist, f"epoch {epoch}: validation AUC {stats['val_auc']:.3f}")
        history.append(stats)
        _say(opts, dist, f"epoch {epoch}/{cfg.TRAIN.EPOCH}: " + " ".join(
            f"{k} {v:.4g}" for k, v in stats.items() if isinstance(v, float) and k != "epoch"))
        if dist.main:
            extra = _checkpoint_state(model, opt, sched, epoch, history, opts, lr)
            save_checkpoint(last, model, cfg, extra)
            if epoch % opts.save_every == 0 or epoch == cfg.TRAIN.EPOCH:
                save_checkpoint(output / f"checkpoint_ep{epoch:04d}.pt", model, cfg, extra)
                _prune(output, opts.keep_last)
            if writer:
                for k, v in stats.items():
                    if isinstance(v, (int, float)) and v is not None:
                        writer.add_scalar(f"train/{k}", v, epoch)
    if writer:
        writer.close()
    if dist.main:
        final = output / "final.pt"
        save_checkpoint(final, model, cfg, {"history": history})
        return final
    return last


def train_epoch(net, model, loader, opt, cfg, dev, epoch: int, keep, opts: TrainOptions, dist, output) -> dict:
    """One epoch; returns the mean loss terms. NaN loss -> TrainingError naming the iteration."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    net.train()
    if opts.freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(opts.amp)
    scaler = torch.amp.GradScaler(dev.type) if opts.amp == "fp16" else None
    sums: dict[str, float] = {}
    n = 0
    t0 = time.perf_counter()
    progress = Progress(TextColumn(f"epoch {epoch}/{cfg.TRAIN.EPOCH}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                        disable=not dist.main or opts.quiet, transient=False)
    with progress:
        task = progress.add_task("train", total=len(loader), info="")
        for it, batch in enumerate(loader, start=1):
            z, x = batch["template"].to(dev), batch["search"].to(dev)
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                out = net(z, x, ce_template_mask=model.template_index, ce_keep_rate=keep)
            out = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in out.items()}
            loss, st = tracking_loss(out, batch["search_anno"].to(dev), batch["gt_map"].to(dev),
                                     cfg.TRAIN.GIOU_WEIGHT, cfg.TRAIN.L1_WEIGHT)
            if not math.isfinite(loss.item()):
                raise TrainingError(f"loss is {loss.item()} at epoch {epoch} iteration {it}; the last good "
                                    f"checkpoint is {output / 'last.pt'}; lower the LR or check the data")
            opt.zero_grad(set_to_none=True)
            if scaler:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.TRAIN.GRAD_CLIP_NORM)
            if scaler:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            for k, v in st.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n += 1
            rate = n / (time.perf_counter() - t0)
            progress.update(task, advance=1, info=f"loss {sums['loss'] / n:.3f} giou {sums['giou'] / n:.3f} "
                            f"l1 {sums['l1'] / n:.3f} focal {sums['focal'] / n:.3f} "
                            f"lr {opt.param_groups[0]['lr']:.2e} {rate:.2f} it/s")
    out = {k: v / max(n, 1) for k, v in sums.items()}
    out["it_per_s"] = n / (time.perf_counter() - t0)
    return out
