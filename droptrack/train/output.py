"""A run's output folder besides its checkpoints: made once every input is checked (room for the checkpoints, the
folder's lock, an earlier run's log and TensorBoard folder set aside, a killed run's temp files removed, a missing
epoch file restored, the config saved); the TensorBoard curves are train/curves.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from droptrack.config import Config, config_yaml, save_config
from droptrack.errors import InputError
from droptrack.paths import same_file
from droptrack.train.lock import OutputLock
from droptrack.train.options import TrainOptions, make_output
from droptrack.train.space import check_final_space, check_space
from droptrack.train.state import (Position, keep_old_log, keep_old_tensorboard, prune, remove_stale_temps,
                                   restore_epoch_file, set_aside)


def prepare_output(opts: TrainOptions, cfg: Config, output: Path, pos: Position, resumed: bool, ckpt_size: int,
                   lock: OutputLock | None, say: Callable[[str], None]) -> None:
    """Make and prepare `output` (rank 0, every input checked: a refused run left no folder); `resumed`: the run
    continues from a checkpoint found there, at `pos`."""
    in_the_way = next((p for p in [*(output / n for n in ("last.pt", "final.pt", "config.yaml", "train.log")),
                                   *output.glob("checkpoint_ep*.pt")] if p.is_dir()), None)
    if in_the_way is not None:   # found only when the run wrote it, after an epoch of training
        raise InputError(f"'{in_the_way}' is a folder where dt train writes a file; move or rename it, or pass "
                         "another --output")
    epoch_files = -(-cfg.TRAIN.EPOCH // opts.save_every)
    if pos.epoch > cfg.TRAIN.EPOCH:   # every epoch done (a resume after final.pt failed): only final.pt is written
        check_final_space(output, ckpt_size)
    else:
        check_space(output, ckpt_size, min(opts.keep_last or epoch_files, epoch_files), say, pos.epoch,
                    cfg.TRAIN.EPOCH)
    make_output(output)
    if lock is not None:
        lock.take(output)
    kept = keep_old_log(output) if not resumed else None
    if kept is not None:
        say(f"train.log of an earlier run (stopped before its first checkpoint) kept as {kept}; this "
            "run logs to a new train.log")
    kept = keep_old_tensorboard(output) if not resumed else None
    if kept is not None:
        say(f"TensorBoard folder tb/ of an earlier run kept as {kept}; this run's curves go to a new "
            "tb/")
    stale = remove_stale_temps(output)
    if stale:
        say(f"removed {len(stale)} half-written checkpoint or config file(s) of a killed run: "
            f"{', '.join(stale)[:120]}")
    done = pos.epoch - 1 if resumed and not pos.iteration else 0
    restored = restore_epoch_file(output, done, done % opts.save_every == 0 or done == cfg.TRAIN.EPOCH)
    if restored:
        say(f"{restored} (the earlier run stopped before writing it) restored from last.pt")
        prune(output, opts.keep_last)
    if not same_file(opts.config, output / "config.yaml"):   # --config OUTPUT/config.yaml: an input, kept
        kept = keep_other_config(output, cfg) if not resumed else None   # a resumed run's: its own, --epochs changed
        if kept is not None:
            say(f"config.yaml of other settings (a run's or your own) kept as {kept}; this run's config goes to a "
                "new config.yaml")
        save_config(cfg, output / "config.yaml")


def keep_other_config(output: Path, cfg: Config) -> str | None:
    """A config.yaml in `output` that is not this run's (a hand-edited one, an earlier run's stopped before its first
    checkpoint) is renamed to the first free config.yaml.N, never replaced (it was, without a word); its new name,
    or None when there is none or it is this run's, byte for byte."""
    path = output / "config.yaml"
    if not path.is_file() or path.read_bytes() == config_yaml(cfg):
        return None
    return set_aside(path)

