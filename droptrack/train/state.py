"""Training state in checkpoints: every rank's RNG, the position inside the epoch, and resume with fallback.

A checkpoint written at iteration k of epoch e holds the optimizer, scheduler, AMP scaler, the loss sums of the
epoch so far and the CPU (and CUDA) RNG state of every rank, so a resumed run draws the same drop-path masks
and continues bit-exactly. A corrupt `last.pt` falls back to the newest intact `checkpoint_ep*.pt`.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from droptrack.errors import DropTrackError, TrainingError, cut
from droptrack.model.checkpoint import NewerFormatError, read_file
from droptrack.model.safe_pickle import UntrustedCheckpoint
from droptrack.train.hint import EPOCH_FILE as _EPOCH_FILE, resume_candidates


@dataclass
class Position:
    """Where training stands: `iteration` iterations of `epoch` are done (0 = the epoch has not started)."""

    epoch: int = 1
    iteration: int = 0
    sums: dict = field(default_factory=dict)
    history: list = field(default_factory=list)


def rng_state(device: torch.device) -> dict:
    """This process's CPU RNG state, and its CUDA RNG state when it trains on CUDA."""
    out = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        out["cuda"] = torch.cuda.get_rng_state(device)
    return out


def gather_rng(device: torch.device, world: int) -> list[dict]:
    """RNG states of all ranks, in rank order (a collective: every rank must call it)."""
    mine = rng_state(device)
    if world <= 1:
        return [mine]
    import torch.distributed as dist

    states: list = [None] * world
    dist.all_gather_object(states, mine)
    return states


def restore_rng(states: list[dict], rank: int, device: torch.device, say: Callable[[str], None]) -> None:
    """Set this rank's RNG to the saved one (a run resumed with another process count gets rank mod saved)."""
    if not states:
        return
    if rank >= len(states):
        say(f"warning: the checkpoint holds RNG states of {len(states)} processes; this run has more, so it is "
            "not bit-exact with the original")
    st = states[rank % len(states)]
    torch.set_rng_state(st["cpu"])
    if device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(st["cuda"], device)


def checkpoint_state(opt, sched, scaler, pos: Position, rng: list[dict], lr: float, options: dict) -> dict:
    """The extra entries of a resumable checkpoint (beside the weights and config)."""
    return {"epoch": pos.epoch, "iteration": pos.iteration, "epoch_sums": dict(pos.sums),
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None, "rng": rng,
            "history": list(pos.history), "lr": lr, "options": options}


def options_record(opts) -> dict:
    """TrainOptions as plain data (paths as strings) for the checkpoint."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()}


def prune(output: Path, keep_last: int) -> None:
    """Keep the newest `keep_last` epoch checkpoints (0 keeps all), by epoch number (by name, epoch 10000's sorted
    before epoch 9999's and was the one deleted)."""
    ckpts = sorted((p for p in output.glob("checkpoint_ep*.pt") if _EPOCH_FILE.match(p.name)),
                   key=lambda p: int(_EPOCH_FILE.match(p.name).group(1)))
    for old in ckpts[:-keep_last] if keep_last > 0 else []:
        old.unlink(missing_ok=True)


_TEMP_FILE = re.compile(r"^\.((last|final|checkpoint_ep\d+)\.pt|config\.yaml)\..+\.tmp$")   # atomic writes' temporaries


def remove_stale_temps(output: Path) -> list[str]:
    """Delete the half-written checkpoint and config.yaml temporaries a killed run left in `output` (they are never
    read); names."""
    stale = sorted(p for p in output.glob(".*.tmp") if _TEMP_FILE.match(p.name) and p.is_file())
    for p in stale:
        p.unlink(missing_ok=True)
    return [p.name for p in stale]


def restore_epoch_file(output: Path, done: int, keep: bool) -> str | None:
    """A run resumed at the end of epoch `done`, whose checkpoint_epNNNN.pt (`keep`: one --save-every keeps) is
    missing: the earlier run stopped after last.pt and before it (while validating, or between the two writes), so
    last.pt holds that epoch: copied to the missing name, so no kept epoch is lost; its name, or None."""
    path = output / f"checkpoint_ep{done:04d}.pt"
    if not keep or done < 1 or path.exists() or not (output / "last.pt").is_file():
        return None
    import shutil

    from droptrack.artifact import atomic_write

    atomic_write(path, lambda tmp: shutil.copyfile(output / "last.pt", tmp))
    return path.name


def set_aside(path: Path) -> str:
    """Rename `path` to the first free NAME.N beside it (never over anything); the new name."""
    n = 1
    while os.path.lexists(f"{path}.{n}"):
        n += 1
    path.rename(f"{path}.{n}")
    return f"{path.name}.{n}"


def keep_old_log(output: Path) -> str | None:
    """A fresh run's train.log starts empty: one an earlier run left (killed before its first checkpoint, so not
    resumed) is renamed to the first free train.log.N, never overwritten; its new name, or None."""
    log = output / "train.log"
    if not log.is_file() or log.stat().st_size == 0:
        return None
    return set_aside(log)


def keep_old_tensorboard(output: Path) -> str | None:
    """A fresh run's TensorBoard curves start in an empty tb/: one an earlier run left (killed before its first
    checkpoint, or its checkpoints deleted to start over) is renamed whole to the first free tb.N, so the two runs'
    curves are not drawn as one and nothing is deleted; its new name, or None."""
    tb = output / "tb"
    if tb.is_symlink() or not tb.is_dir() or not any(tb.iterdir()):
        return None
    return set_aside(tb)


def _load_into(obj: dict, model, opt, sched, scaler) -> None:
    model.load_state_dict(obj["net"])
    opt.load_state_dict(obj["optimizer"])
    sched.load_state_dict(obj["scheduler"])
    if scaler is not None and obj.get("scaler"):
        scaler.load_state_dict(obj["scaler"])


# config entries a resumed run may change: they do not shape the samples, the loss or the optimizer
FREE_SECTIONS = ("NAME", "TEST")
FREE_KEYS = ("TRAIN.EPOCH", "TRAIN.NUM_WORKER", "TRAIN.PRINT_INTERVAL", "TRAIN.VAL_EPOCH_INTERVAL", "DATA.VAL")
# config entries dt train's options set (a refused resume names the option that gives the checkpoint's value)
OPTION_KEYS = {"DATA.TRAIN.SAMPLE_PER_EPOCH": "--samples-per-epoch", "TRAIN.BATCH_SIZE": "--batch-size"}


def _flatten(values: dict, prefix: str = "") -> dict[str, Any]:
    """Nested config sections -> {'DATA.TRAIN.SAMPLE_PER_EPOCH': value, ...} (so a refusal names the key)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        key = f"{prefix}{k}"
        out.update(_flatten(v, key + ".") if isinstance(v, dict) and v else {key: v})
    return out


def run_settings(config: dict, options: dict) -> dict[str, Any]:
    """What a resumed run must share with its checkpoint: the config (but FREE_SECTIONS / FREE_KEYS), the seed,
    the data roots (real paths as read: `data_roots`; an older checkpoint's --data ones), the per-epoch iteration
    cap, the BatchNorm mode, the mixed-precision mode and the process count (recorded since it was compared)."""
    flat = {k: v for k, v in _flatten(config).items() if k.split(".")[0] not in FREE_SECTIONS
            and not any(k == f or k.startswith(f + ".") for f in FREE_KEYS)}
    roots = options.get("data_roots")   # where the data was read from, however given (--data, DT_DATA*)
    if roots is None:   # a checkpoint written before they were recorded: the --data roots as given
        roots = {}
        for item in options.get("data") or []:
            name, sep, path = str(item).partition("=")
            roots[name if sep else "SYNTH"] = os.path.realpath(path if sep else item)
    amp = options.get("amp") or ("fp16" if (config.get("TRAIN") or {}).get("AMP") else "off")   # as amp_mode
    flat.pop("TRAIN.AMP", None)   # compared as --amp (off / fp16 / bf16): the refusal then names the option
    world = {"--nproc": options["world"]} if "world" in options else {}   # the global batch, iterations per epoch
    return {**flat, "--seed": options.get("seed"), "--data": roots, "--max-iters": options.get("max_iters"),
            "--freeze-bn": options.get("freeze_bn"), "--amp": amp, **world}


class OtherRunError(TrainingError):
    """A checkpoint trained with other settings than this run (refused, never skipped as unreadable)."""


def _shown(key: str, value: Any) -> str:
    """A setting as a refused resume names it: a switch as on / off, --max-iters not given as (none) (they read
    'False' and 'None')."""
    if key == "--freeze-bn":
        return "on" if value else "off"
    return "(none)" if value is None and key == "--max-iters" else str(value)[:60]


def _fix(key: str, old: Any) -> tuple[str, bool] | None:
    """The option that gives a resumed run the checkpoint's `old` value of `key` and whether it is to be dropped
    (('--seed 42', False), ('--freeze-bn', True) where the checkpoint had it off), or None (a config key)."""
    if key == "--freeze-bn" or (key == "--max-iters" and old is None):
        return key, not old
    if key in OPTION_KEYS or (key in ("--seed", "--max-iters", "--nproc", "--amp") and old is not None):
        return f"{OPTION_KEYS.get(key, key)} {old}", False
    return None


def _check_same_run(path: Path, obj: dict, current: tuple[dict, dict]) -> None:
    """TrainingError naming the first setting the checkpoint was trained with that this run changes (`current`:
    this run's config and options record)."""
    if not isinstance(obj.get("config"), dict) or not isinstance(obj.get("options"), dict):
        return   # not written by dt train's loop: nothing to compare
    config, options = current
    if "data_roots" not in obj["options"]:   # an older checkpoint: compared by the --data roots as given
        options = {k: v for k, v in options.items() if k != "data_roots"}
    settings = run_settings(config, options)
    old = run_settings(obj["config"], obj["options"])
    diff = next((k for k, v in settings.items() if k in old and old[k] != v), None)
    if diff is not None:
        was, now = _shown(diff, old[diff]), _shown(diff, settings[diff])
        if diff == "--data":   # the one root that differs, whole (however given: --data, DT_DATA_<NAME>, DT_DATA)
            name = next(n for n in sorted({*old[diff], *settings[diff]}) if old[diff].get(n) != settings[diff].get(n))
            was, now = (f"{name}={side[diff].get(name) or '(none)'}" for side in (old, settings))
        diffs = [k for k, v in settings.items() if k in old and old[k] != v]
        fixes = [f for f in (_fix(k, old[k]) for k in diffs) if f is not None]
        give, drop = (" ".join(flag for flag, dropped in fixes if dropped is d) for d in (False, True))
        said = " and ".join(([give] if give else []) + ([f"drop {drop}"] if drop else []))
        here = f"here: {said}; " if len(fixes) == len(diffs) else ""   # all of them set by an option
        raise OtherRunError(f"cannot resume from {path}: it was trained with {diff} {was}, this run "
                            f"has {now}; resume with the same config and options ({here}only --epochs, "
                            "workers, printing, validation and TEST settings may change) or pass another --output")


def threads_note(saved: Any, now: dict) -> str | None:
    """A warning for a CPU run resumed with another torch thread count than its checkpoint's (--threads, by default
    the machine's cores): its float sums differ in the last bits, so it goes on, but not bit-exactly; None when they
    match or one is not known (a GPU run, an older checkpoint)."""
    was, has = saved.get("cpu_threads") if isinstance(saved, dict) else None, now.get("cpu_threads")
    if was is None or has is None or was == has:
        return None
    return (f"warning: this run trains with {has} CPU threads and the checkpoint's with {was}: it goes on, but not "
            f"bit-exactly as the uninterrupted run would (pass --threads {was} for that)")


def check_epochs(path: Path, pos: Position, epochs: int, flag: str) -> None:
    """TrainingError when the checkpoint at `pos` is past the run's last epoch (`flag`: '--epochs' or the config's
    'TRAIN.EPOCH'): final.pt would hold more training than its config says."""
    done = pos.epoch - 1
    if done < epochs or (done == epochs and not pos.iteration):
        return
    part = f" and {pos.iteration} iterations of epoch {pos.epoch}" if pos.iteration else ""
    least = done + 1 if pos.iteration else done
    finish = "" if pos.iteration else f" ({least} writes final.pt from it as it is)"
    raise TrainingError(f"cannot resume from {path} with {flag} {epochs}: it has {done} epochs done{part}; pass "
                        f"--epochs {least} or more{finish}, or another --output to start anew")


def resume(output: Path, model, opt, sched, scaler, iterations: int, say: Callable[[str], None],
           current: tuple[dict, dict] | None = None,
           epochs: tuple[int, str] | None = None) -> tuple[Position, list[dict], Path] | None:
    """Load the newest intact checkpoint under `output` into model/optimizer/scheduler/scaler.

    Returns the position to continue from, the saved per-rank RNG states and the file, or None when there is none.
    A file that cannot be read is skipped with a message; if none can be read, TrainingError. `current` (this
    run's config and options record): a checkpoint trained with other settings is refused (TrainingError), and
    so is one past `epochs` (the run's last epoch and the flag or key that set it)."""
    candidates = resume_candidates(output)
    if not candidates and (output / "final.pt").exists():   # starting fresh would write over it
        raise TrainingError(f"cannot resume: '{output}' holds only final.pt (a finished run, no last.pt or "
                            "checkpoint_ep*.pt to continue from); pass another --output (and --pretrained to start "
                            "from its weights)")
    if not candidates:
        return None
    failures = []
    for path in candidates:
        try:
            obj = read_file(path)
            if not {"net", "optimizer", "epoch"} <= obj.keys():   # weights only (a model file), not a training state
                failures.append(f"{path.name} (weights without the training state dt train saves: not a checkpoint "
                                "to resume; pass it as --pretrained to start from its weights)")
                continue
            if current is not None:   # before the weights: another config is named, not reported as unreadable
                _check_same_run(path, obj, current)
            _load_into(obj, model, opt, sched, scaler)
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            failures.append(f"{path.name} ({exc.__class__.__name__}: {cut(str(exc), 120)})")
        except UntrustedCheckpoint:  # dt train writes plain data: --trust-checkpoint (for --pretrained) is no fix
            failures.append(f"{path.name} (holds code-bearing objects: not a checkpoint dt train wrote; not loaded)")
        except DropTrackError as exc:  # a missing or corrupt file: its message names it
            if isinstance(exc, (OtherRunError, NewerFormatError)):   # intact: never fallen back from (written over)
                raise
            failures.append(f"{path.name} ({cut(str(exc), 240)})")
        else:
            if failures:
                say(f"warning: cannot resume from {'; '.join(failures)}; falling back to {path.name}")
            break
    else:
        raise TrainingError(f"cannot resume: no intact checkpoint under '{output}' ({'; '.join(failures)}); delete "
                            "them to start over or pass another --output")
    epoch, it = int(obj["epoch"]), int(obj.get("iteration") or iterations)
    pos = Position(epoch + 1, 0, {}, list(obj.get("history", [])))
    if it < iterations:  # a mid-epoch (interval) checkpoint
        pos = Position(epoch, it, dict(obj.get("epoch_sums") or {}), pos.history)
    if epochs is not None:
        check_epochs(path, pos, *epochs)
    note = threads_note(obj.get("options"), current[1]) if current is not None else None
    if note is not None:
        say(note)
    rng = obj.get("rng")
    if rng is None and "torch_rng" in obj:  # checkpoints written before per-rank states
        rng = [{"cpu": obj["torch_rng"]}]
    return pos, rng or [], path
