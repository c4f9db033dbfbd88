"""`dt train`: the official recipe with DDP, atomic checkpoints (every epoch and every N iterations), bit-exact
resume and validation AUC."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import torch

from droptrack.config import config_to_dict
from droptrack.errors import OutputFull, TrainingError, plain_text, printable
from droptrack.model import build_model
from droptrack.model.checkpoint import load_pretrained, save_checkpoint
from droptrack.signals import Stopped, stop_error, stop_signals
from droptrack.train.amp import check_amp
from droptrack.train.badframes import BadFrames
from droptrack.train.data import (PairDataset, check_distinct_roots, check_nonempty, left_out_notes, load_datasets,
                                  parse_data_roots, resolved_roots)
from droptrack.train.device import torchrun_local_rank, train_device
from droptrack.train.distill import distill_teacher
from droptrack.train.dist import setup_dist
from droptrack.train.loader import cpu_cores, epoch_batches
from droptrack.train.lock import OutputLock
from droptrack.train.loop import EpochSetup, diverged, official_cudnn, time_left, train_epoch
from droptrack.train.optim import build_optimizer, ce_keep_rate, epoch_iterations, reference_batch, scaled_lr
from droptrack.train.options import TrainOptions, amp_mode, prepare
from droptrack.train.curves import open_curves
from droptrack.train.output import prepare_output
from droptrack.train.processing import Processing
from droptrack.train.sampler import check_usable
from droptrack.train.hint import resume_candidates, resume_hint
from droptrack.train.space import checkpoint_bytes, write_failed
from droptrack.train.state import Position, checkpoint_state, gather_rng, options_record, prune, restore_rng, resume
from droptrack.train.stops import (StepHold, batch_cut_off, hold_agent_stop, interrupt_behind, peer_failed,
                                   peer_gone, teardown, worker_died)
from droptrack.train.validate import trained_on_note, val_sequences

__all__ = ["Stopped", "TrainOptions", "train"]


def run_training(opts: TrainOptions, lock: OutputLock | None = None, hold: StepHold | None = None,
                 batches_of: Callable[..., Iterator[dict]] = epoch_batches) -> Path:
    """Train per the config and options; rank 0 writes checkpoints, config and logs under opts.output (holding
    `lock` on it from before the first write). A stop signal `hold` takes during an iteration is raised once that
    iteration is done and saved in last.pt (at an epoch's end: once its checkpoints are written). `batches_of` makes
    an epoch's batches, with `loader.epoch_batches`' arguments (a test's stands in for a DataLoader whose worker a
    stop signal ends while its batch is read, at a batch it chooses: `train`'s race)."""
    hold = hold if hold is not None else StepHold()
    cfg = prepare(opts)   # checks --device's spelling and probes the output folder (made once every input is checked)
    dev = train_device(opts.device, torchrun_local_rank())
    amp = amp_mode(opts, cfg)
    amp_note = check_amp(amp, dev)   # a device that cannot do it is refused before any work
    dist = setup_dist(str(dev))
    if dev.type == "cuda":
        torch.cuda.set_device(dev)

    def say(msg: str) -> None:   # plain text, read as neither markup nor emoji codes (it names files); warnings yellow
        if dist.main and not opts.quiet:
            from rich.console import Console
            text = plain_text(msg)
            if msg.startswith("warning: "):
                text.stylize("yellow")
            Console(stderr=True, soft_wrap=True).print(text)

    if amp_note:
        say(amp_note)
    workers, cores = cfg.TRAIN.NUM_WORKER, cpu_cores()
    if workers > cores:
        flag = "--workers" if opts.workers is not None else "TRAIN.NUM_WORKER"
        say(f"warning: {flag} {workers}: more data-loading workers than the {cores} CPU core(s) this process "
            f"may use only cost memory and start-up time; --workers {cores} is enough")
    output = Path(opts.output)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    global_batch = cfg.TRAIN.BATCH_SIZE * dist.world
    iterations = epoch_iterations(cfg.DATA.TRAIN.SAMPLE_PER_EPOCH, dist.world, cfg.TRAIN.BATCH_SIZE)
    if opts.max_iters:
        iterations = min(iterations, opts.max_iters)
    if iterations < 1:
        raise TrainingError(f"SAMPLE_PER_EPOCH {cfg.DATA.TRAIN.SAMPLE_PER_EPOCH} < global batch {global_batch}; "
                            "raise --samples-per-epoch or lower --batch-size")
    trained = iterations * global_batch
    if opts.samples_per_epoch is not None and not opts.max_iters and trained < opts.samples_per_epoch:
        say(f"note: --samples-per-epoch {opts.samples_per_epoch} trains {trained} pairs an epoch ({iterations} whole "
            f"batch(es) of {global_batch}; the last part batch is dropped, as the official loader does); pass "
            f"{trained} or {trained + global_batch} to say what runs")
    roots = parse_data_roots(opts.data)
    data_roots = resolved_roots(cfg.DATA.TRAIN.DATASETS_NAME, roots)   # checked now, recorded in the checkpoints
    check_distinct_roots(cfg.DATA.TRAIN.DATASETS_NAME, cfg.DATA.TRAIN.DATASETS_RATIO, data_roots)   # before reading
    datasets = load_datasets(cfg.DATA.TRAIN.DATASETS_NAME, roots)
    check_nonempty(cfg.DATA.TRAIN.DATASETS_NAME, cfg.DATA.TRAIN.DATASETS_RATIO, roots, datasets)
    dataset = PairDataset(datasets, cfg.DATA.TRAIN.DATASETS_RATIO, cfg.DATA.MAX_SAMPLE_INTERVAL,
                          Processing.from_config(cfg), opts.seed, cfg.DATA.TRAIN.BOX_WEIGHT)
    check_usable(cfg.DATA.TRAIN.DATASETS_NAME, cfg.DATA.TRAIN.DATASETS_RATIO, dataset.sampler)
    for note in left_out_notes(cfg.DATA.TRAIN.DATASETS_NAME, cfg.DATA.TRAIN.DATASETS_RATIO, roots):
        say(note)   # LaSOT's test split (and names not LaSOT's) under the root: left out as the recipe does
    if opts.val_data:
        notes: list[str] = []
        seqs = val_sequences(opts.val_data, opts.val_sequences, notes)   # a wrong folder fails now, not after an epoch
        shared = trained_on_note(seqs, datasets, opts.val_data)   # --val-data the --data root: no held-out score
        for note in notes + ([shared] if shared else []):
            say(note)
    torch.manual_seed(opts.seed + dist.rank)
    model = build_model(cfg, training=True)
    teacher = distill_teacher(cfg, model, dev)   # a missing or broken teacher is refused before any output
    loaded = load_pretrained(model, opts.pretrained, trust=opts.trust_checkpoint) if opts.pretrained else None
    if loaded is None and not opts.resume:
        named = f" (MODEL.PRETRAIN_FILE '{cfg.MODEL.PRETRAIN_FILE}' is only a name; pass the file with " \
            "--pretrained)" if cfg.MODEL.PRETRAIN_FILE else ""
        say(f"warning: no --pretrained weights: training from scratch{named}")
    if teacher is not None:
        say(f"distillation: weight {cfg.TRAIN.DISTILL_WEIGHT:g} on block {cfg.TRAIN.DISTILL_BLOCK}'s token relations, "
            f"teacher MobileNetV2 (ImageNet) from {teacher.source}")
    lr = scaled_lr(cfg, global_batch)
    model.to(dev)
    opt, sched = build_optimizer(model, cfg, lr)
    scaler = torch.amp.GradScaler(dev.type) if amp == "fp16" else None
    ckpt_size = checkpoint_bytes(model)
    pos = Position()
    record = {**options_record(opts), "data_roots": data_roots,   # world: the process count (the ranks' --nproc is 1)
              "world": dist.world, "cpu_threads": torch.get_num_threads() if dev.type == "cpu" else None}
    last_epoch = (cfg.TRAIN.EPOCH, "--epochs" if opts.epochs is not None else "TRAIN.EPOCH")
    found = resume(output, model, opt, sched, scaler, iterations, say, (config_to_dict(cfg), record),
                   last_epoch) if opts.resume else None
    if found is not None:
        pos, rng, found_in = found
        restore_rng(rng, dist.rank, dev, say)
    elif opts.resume:
        say(f"warning: --resume: no checkpoint under {output} yet, starting fresh")
    if loaded is not None and found is not None:   # the rerun of the first command, --resume added
        say(f"--pretrained {opts.pretrained} not loaded: --resume goes on from {found_in}, the weights of the run so "
            "far")
    elif loaded is not None:   # said after a resume's checks (as the LR line): a refused one is its error line alone
        say(f"pretrained: {loaded.summary()}")
    if global_batch != reference_batch(cfg):
        say(f"global batch {global_batch} != reference {reference_batch(cfg)}: LR scaled linearly "
            f"{cfg.TRAIN.LR:g} -> {lr:g}")
    if dist.main:   # every input is checked: a refused run (bad --pretrained, data, resume, space) left no folder
        prepare_output(opts, cfg, output, pos, found is not None, ckpt_size, lock, say)
    net = model
    if dist.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True,
                                                        device_ids=[dev.index] if dev.type == "cuda" else None)
    # a resumed run passes the epoch it starts at: TensorBoard then hides the earlier run's points from that epoch on
    # (written after the checkpoint it resumed from, e.g. when a corrupt last.pt fell back to an older one)
    writer = open_curves(output / "tb", pos.epoch if found is not None else None) if dist.main else None
    bb = cfg.MODEL.BACKBONE
    has_ce = bool(bb.CE_LOC) and bb.TYPE.endswith("_ce")
    val_every = opts.val_every or cfg.TRAIN.VAL_EPOCH_INTERVAL

    def tell(msg: str) -> None:   # said, and kept in train.log: plain text (it names files and sequences)
        msg = printable(msg)
        say(msg)
        if dist.main:
            with open(output / "train.log", "a") as f:
                f.write(msg + "\n")

    if found is not None:   # the earlier run's lines after this point are run (and logged) again below
        tell(f"resumed from {found_in} at epoch {pos.epoch}" + (f", iteration {pos.iteration + 1}" if pos.iteration
                                                                  else ""))
    steps, started = 0, time.monotonic()  # iterations run by this process (for --stop-after and the time left)
    bad = BadFrames(then=lambda: resume_hint(output))   # unreadable frames: skipped, named once, counted
    val_named: set[str] = set()
    warn = None if opts.quiet else lambda line: print(f"rank {dist.rank}: {line}", file=sys.stderr, flush=True)
    last = output / "last.pt"

    def write(path: Path, extra: dict) -> None:
        try:
            save_checkpoint(path, model, cfg, extra)
        except OutputFull as exc:   # atomic_write named the file and the cause (full, quota, size limit)
            found = resume_candidates(output)
            then = f"run the same command with --resume to continue from {found[0]}" if found else \
                "run the same command again"
            raise OutputFull(f"{exc}; once there is room, {then}") from None
        except (OSError, RuntimeError) as exc:   # a full disk: torch.save says 'unexpected pos' (zip writer)
            stop = interrupt_behind(exc)
            if stop is not None:   # Ctrl-C / SIGTERM inside torch.save: its zip writer then fails on closing
                raise stop from None
            found = resume_candidates(output)
            err = write_failed(path, exc, ckpt_size, found[0] if found else None)
            if err is None:
                raise
            raise err from None

    def save(path_list: list[Path]) -> None:
        bad = next((k for k, v in model.state_dict().items() if v.is_floating_point() and not v.isfinite().all()), 0)
        if bad:   # every rank (same weights) stops here, before the collective; the good checkpoint stays
            raise diverged(f"the weights hold NaN/Inf ({bad[:60]})", pos.epoch, pos.iteration, last)
        rng = gather_rng(dev, dist.world)  # collective: every rank calls save
        if dist.main:
            extra = checkpoint_state(opt, sched, scaler, pos, rng, lr, record)
            for path in path_list:
                write(path, extra)

    def on_step(it: int, sums: dict) -> bool:
        nonlocal steps
        steps += 1
        pos.iteration, pos.sums = it, sums
        stop = opts.stop_after is not None and steps >= opts.stop_after
        asked = hold.pending is not None   # Ctrl-C / SIGTERM during this iteration: saved, then stopped
        if it < iterations and (stop or asked or (opts.save_interval and it % opts.save_interval == 0)):
            save([last])
        if it < iterations:   # the epoch's last iteration is saved with the epoch, below
            hold.stop_if_asked()
        return stop

    def due(epoch: int) -> bool:   # whether the run validates after `epoch`
        return bool(opts.val_data) and (epoch % val_every == 0 or epoch == cfg.TRAIN.EPOCH)

    def validate(epoch: int, stats: dict) -> None:   # rank 0: the epoch's validation AUC into its stats
        if not dist.main:
            return
        from droptrack.train.validate import validation_auc

        left_out: list[str] = []   # sequences with an unreadable frame: named once per run
        with hold.released():   # a held stop now; one during validation at once
            stats["val_auc"] = validation_auc(model, cfg, opts.val_data, opts.val_sequences, left_out)
        model.train()
        for seq in (s for s in left_out if s not in val_named):
            val_named.add(seq)
            tell(f"warning: validation leaves out sequence {seq}")
        tell(f"epoch {epoch}: validation AUC {stats['val_auc']:.3f}"
             + (f" ({len(left_out)} unreadable sequence(s) left out)" if left_out else ""))

    def close(epoch: int, stats: dict) -> None:   # the epoch's line, checkpoints and curves
        tell(f"epoch {epoch}/{cfg.TRAIN.EPOCH}: " + " ".join(
            f"{k} {v:.4g}" for k, v in stats.items() if isinstance(v, float) and k != "epoch")
            + time_left(time.monotonic() - started, steps, (cfg.TRAIN.EPOCH - epoch) * iterations, iterations))
        keep_file = epoch % opts.save_every == 0 or epoch == cfg.TRAIN.EPOCH
        save([last] + ([output / f"checkpoint_ep{epoch:04d}.pt"] if keep_file else []))
        if dist.main:
            if keep_file:
                prune(output, opts.keep_last)
            if writer:   # on disk with the epoch's checkpoint: a killed run's curves end where it resumes
                writer.add_scalars({f"train/{k}": v for k, v in stats.items() if isinstance(v, (int, float))}, epoch)

    with hold.held():   # stop signals wait for the iteration or checkpoint in progress (StepHold)
        done = pos.epoch - 1   # a run killed while validating epoch `done` (saved before it): validate it now
        if found is not None and not pos.iteration and pos.history and due(done) and "val_auc" not in pos.history[-1]:
            pos.epoch, pos.iteration = done, iterations   # as the uninterrupted run: validation, then the epoch's
            validate(done, pos.history[-1])                  # line, checkpoints and curves
            close(done, pos.history[-1])
            pos.epoch, pos.iteration = done + 1, 0
        while pos.epoch <= cfg.TRAIN.EPOCH:
            epoch = pos.epoch
            keep = ce_keep_rate(epoch, cfg.TRAIN.CE_START_EPOCH, cfg.TRAIN.CE_WARM_EPOCH, bb.CE_KEEP_RATIO[0]) \
                if has_ce else None
            setup = EpochSetup(cfg, dev, epoch, keep, amp, opts.freeze_bn, show=dist.bar(opts.quiet),
                               log=output / "train.log" if dist.main else None, last=last, bad=bad, warn=warn,
                               teacher=teacher)
            batches = batches_of(dataset, epoch, pos.iteration, iterations, cfg, dist, opts.seed)
            try:
                sums, rate = train_epoch(net, model, batches, iterations, opt, scaler, setup, start=pos.iteration,
                                         sums=pos.sums, on_step=on_step)
            except (OSError, EOFError) as exc:   # a batch read from a worker the held stop signal ended (`train`)
                if hold.pending is not None and pos.iteration and batch_cut_off(exc):
                    save([last])   # the iterations done, as the stop would have saved them after the next one
                raise
            if pos.iteration < iterations:  # --stop-after: the checkpoint was written at this iteration
                say(f"stopped after {steps} iterations at epoch {epoch} iteration {pos.iteration}; continue with "
                    "--resume")
                bad.tell_summary(tell)
                return last
            lr = opt.param_groups[0]["lr"]   # the rate this epoch trained at (the step below sets the next one's)
            sched.step()
            stats = {k: v / iterations for k, v in sums.items()}
            stats.update({"it_per_s": rate, "epoch": epoch, "lr": lr, "keep_rate": keep})
            pos.history.append(stats)
            pos.iteration, pos.sums = iterations, {}
            if due(epoch):
                save([last])   # the epoch's training is kept before validation (minutes): stopped there, it resumes
                validate(epoch, stats)
            close(epoch, stats)
            hold.stop_if_asked()
            pos.epoch, pos.iteration = epoch + 1, 0
            if opts.stop_after is not None and steps >= opts.stop_after and epoch < cfg.TRAIN.EPOCH:   # else: done
                say(f"stopped after {steps} iterations at the end of epoch {epoch}; continue with --resume")
                bad.tell_summary(tell)
                return last
    bad.tell_summary(tell)
    if dist.main:
        final = output / "final.pt"
        write(final, {"history": pos.history})
        return final
    return last


def train(opts: TrainOptions, batches_of: Callable[..., Iterator[dict]] = epoch_batches) -> Path:
    """Run (or resume) training; returns the path of the final checkpoint. SIGTERM / SIGHUP raise Stopped and Ctrl-C
    KeyboardInterrupt; in one process, one that comes during an iteration first lets it finish and saves last.pt.
    (`batches_of`: as `run_training`'s.)

    Under torchrun every rank waits for the others (rank 0 may still be writing a checkpoint), then tears the process
    group down, under gloo also when it fails (stops.teardown says why).
    """
    distributed = lambda: torch.distributed.is_available() and torch.distributed.is_initialized()   # noqa: E731
    try:
        hold = StepHold()
        with stop_signals(hold), official_cudnn(), OutputLock() as lock:
            result = run_training(opts, lock, hold, batches_of)
        if distributed():
            torch.distributed.barrier()
    except (OSError, EOFError) as exc:   # a batch read from a worker the same stop signal ended an instant before
        if hold.pending is None or not batch_cut_off(exc):
            raise
        raise stop_error(hold.pending) from None
    except RuntimeError as exc:   # a collective whose peer rank failed (disk full, bad input): that rank says why
        if worker_died(exc) and hold.pending is not None:   # the stop signal reached the whole group (systemd, kill
            raise stop_error(hold.pending) from None        # -- -PGID): the workers ended first, before the batch came
        if worker_died(exc):
            raise TrainingError(f"a data-loading worker process died ({str(exc).strip()[:90]}); the usual cause is "
                                "memory running out: lower --workers or --batch-size (--workers 0 loads in the "
                                f"training process), then {resume_hint(opts.output)}") from None
        if not (distributed() and peer_gone(exc)):
            raise
        hold_agent_stop()
        raise peer_failed(torch.distributed.get_rank()) from None
    finally:
        teardown(failed=sys.exc_info()[0] is not None)   # in a finally: the exception that is leaving, if any
    return result

