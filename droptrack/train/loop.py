"""One training epoch: forward/backward with AMP and clipping, NaN guard, progress bar, log lines, checkpoint hook."""

from __future__ import annotations

import contextlib
import datetime
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from droptrack.config import Config
from droptrack.errors import TrainingError, print_plain
from droptrack.train.badframes import BadFrames
from droptrack.train.distill import BlockTokens, relation_loss, teacher_tokens
from droptrack.train.loss import tracking_loss

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class EpochSetup:
    """What one epoch needs besides the model and the data."""

    cfg: Config
    device: torch.device
    epoch: int
    keep_rate: float | None
    amp: str = "off"
    freeze_bn: bool = False
    show: bool = True               # progress bar (rank 0, not quiet)
    log: Path | None = None         # TRAIN.PRINT_INTERVAL lines go here (rank 0)
    last: Path | None = None        # named by the NaN error
    bad: BadFrames | None = None    # counts the batches' skipped unreadable frames (stops the run past its limit)
    warn: Callable[[str], None] | None = None   # says a warning where no bar is shown (other ranks); None: silent
    teacher: torch.nn.Module | None = None   # TRAIN.DISTILL_WEIGHT > 0: the frozen MobileNetV2 (train/distill.py)


def _log_line(setup: EpochSetup, it: int, total: int, sums: dict, n: int, lr: float, rate: float) -> str:
    terms = " ".join(f"{k} {v / max(n, 1):.5f}" for k, v in sums.items())
    return f"[epoch {setup.epoch}: {it}/{total}] {terms} lr {lr:.3e} {rate:.2f} it/s"


@contextlib.contextmanager
def official_cudnn() -> Iterator[None]:
    """cuDNN as the official training sets it (deterministic algorithms, no autotuner: ostrack_spec.md 5.4), so a
    resumed run on a GPU repeats the uninterrupted one; the caller's settings come back afterwards."""
    cudnn = torch.backends.cudnn
    old = cudnn.deterministic, cudnn.benchmark
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark = old


def diverged(what: str, epoch: int, it: int, last: Path | None) -> TrainingError:
    """The one-line error for a run that diverged at iteration `it` of `epoch`: the last good checkpoint where there
    is one, and how to go on (a resume refuses another TRAIN.LR, so: a new run, from scratch or from that one)."""
    last = last if last is not None and last.is_file() else None
    keep = f"; or keep its weights: --pretrained {last} with another --output" if last else ""
    good = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
    return TrainingError(f"{what} at epoch {epoch} iteration {it}; {good}; lower TRAIN.LR (or check the data) and "
                         f"start again{keep}")


def time_left(elapsed: float, steps: int, remaining: int, per_epoch: int) -> str:
    """'; N more epochs, about H:MM:SS left' for the epoch summary: the run's pace so far (iterations, checkpoints,
    validation) over the iterations still to run; '' after the last epoch. (The bar shows the epoch's own.)"""
    if remaining <= 0 or steps <= 0:
        return ""
    n, seconds = -(-remaining // per_epoch), elapsed / steps * remaining
    left = datetime.timedelta(seconds=round(seconds)) if seconds < 1e9 else "more than 30 years"   # --epochs 1e20
    return f"; {n} more epoch{'s' * (n > 1)}, about {left} left"


def progress_bar(epoch: int, epochs: int, show: bool = True, console=None):
    """The epoch's progress line: the epoch, a bar, iterations done/total and the time left come first and keep
    their width; the loss terms fill the rest of the line, cut with '...' on a narrow terminal (at 80 columns rich
    dropped the bar, the count and the time left instead)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Column

    return Progress(TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    TextColumn("{task.fields[info]}", table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
                    disable=not show, transient=False, expand=True, console=console)


def train_epoch(net, model, batches, total: int, opt, scaler, setup: EpochSetup, start: int = 0,
                sums: dict | None = None, on_step: Callable[[int, dict], bool] | None = None) -> tuple[dict, float]:
    """Run iterations start+1..total of one epoch (`batches` yields exactly those); returns the epoch's loss sums
    (over iterations 1..last) and this call's iterations per second.

    `sums` carries the sums of iterations 1..start (a resumed epoch); `on_step(it, sums)` runs after every
    iteration (checkpoints) and returns True to stop early."""
    cfg = setup.cfg
    net.train()
    if setup.freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
    amp_dtype = AMP_DTYPES.get(setup.amp)
    sums = dict(sums or {})
    done = 0
    t0 = time.perf_counter()
    progress = progress_bar(setup.epoch, cfg.TRAIN.EPOCH, setup.show)
    log = open(setup.log, "a") if setup.log else None
    kept = BlockTokens(model.backbone.blocks[cfg.TRAIN.DISTILL_BLOCK]) if setup.teacher is not None else None
    try:
        with progress:
            task = progress.add_task("train", total=total, completed=start, info="")
            for it, batch in enumerate(batches, start=start + 1):
                skipped, damaged = batch.pop("skipped", None), batch.pop("damaged", None)
                if (skipped or damaged) and setup.bad is not None:   # each frame named once, above the bar
                    for line in setup.bad.add(skipped or []) + setup.bad.damaged(damaged or []):
                        if setup.show:
                            print_plain(progress.console, line)
                        elif setup.warn is not None:
                            setup.warn(line)
                        if log:
                            log.write(line + "\n")
                            log.flush()
                dev = setup.device
                z, x = batch["template"].to(dev), batch["search"].to(dev)
                with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    out = net(z, x, ce_template_mask=model.template_index, ce_keep_rate=setup.keep_rate)
                out = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in out.items()}
                weight = batch["box_weight"].to(dev) if "box_weight" in batch else None
                try:
                    loss, st = tracking_loss(out, batch["search_anno"].to(dev), batch["gt_map"].to(dev),
                                             cfg.TRAIN.GIOU_WEIGHT, cfg.TRAIN.L1_WEIGHT, weight)
                except FloatingPointError:   # NaN boxes: the official code stops there too
                    raise diverged("the network outputs NaN boxes", setup.epoch, it, setup.last) from None
                if kept is not None:
                    distill = relation_loss(kept.tokens, teacher_tokens(setup.teacher, z, x), model.backbone.lens_z,
                                            kept.index)
                    loss = loss + cfg.TRAIN.DISTILL_WEIGHT * distill
                    st = {**st, "loss": loss.detach(), "distill": distill.detach()}
                if not math.isfinite(loss.item()):
                    raise diverged(f"loss is {loss.item()}", setup.epoch, it, setup.last)
                opt.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(opt)
                else:
                    loss.backward()
                if cfg.TRAIN.GRAD_CLIP_NORM > 0:   # 0 is no clipping, as the official trainer reads it
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.TRAIN.GRAD_CLIP_NORM)
                if scaler is not None:
                    scaler.step(opt)
                    scaler.update()
                else:
                    opt.step()
                for k, v in st.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                done += 1
                rate = done / (time.perf_counter() - t0)
                lr = opt.param_groups[0]["lr"]
                distilled = f" distill {sums['distill'] / it:.3f}" if "distill" in sums else ""
                progress.update(task, advance=1, info=f"loss {sums['loss'] / it:.3f} giou {sums['giou'] / it:.3f} "
                                f"l1 {sums['l1'] / it:.3f} focal {sums['focal'] / it:.3f}{distilled} lr {lr:.2e} "
                                f"{rate:.2f} it/s")
                if log and (it % cfg.TRAIN.PRINT_INTERVAL == 0 or it == total):
                    log.write(_log_line(setup, it, total, sums, it, lr, rate) + "\n")
                    log.flush()
                if on_step is not None and on_step(it, sums):
                    break
    finally:
        if log:
            log.close()
        if kept is not None:
            kept.close()
    return sums, done / max(time.perf_counter() - t0, 1e-9)
