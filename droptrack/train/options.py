"""`dt train` options: one dataclass, checked with the config's rules before any work, and applied to the config."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from droptrack.config import Config, load_config
from droptrack.config_rules import Rule, check_value
from droptrack.errors import ConfigError, InputError
from droptrack.model.default import embedded_hint
from droptrack.model.ostrack import check_crop_sizes
from droptrack.model.registry import backbone_spec
from droptrack.paths import check_reachable, check_separators, same_file, windows_note
from droptrack.train.data import check_data_names, parse_data_roots
from droptrack.train.lock import check_free
from droptrack.train.optim import reference_batch

AMP_MODES = ("off", "bf16", "fp16")


@dataclass
class TrainOptions:
    """Everything `dt train` accepts (config values can be overridden here)."""

    config: str
    output: Path
    pretrained: Path | None = None
    data: list[str] = field(default_factory=list)
    val_data: Path | None = None
    epochs: int | None = None
    batch_size: int | None = None
    samples_per_epoch: int | None = None
    workers: int | None = None
    resume: bool = False
    save_every: int = 1
    save_interval: int | None = None
    keep_last: int = 3
    val_every: int | None = None
    val_sequences: int = 8
    seed: int = 42
    amp: str | None = None
    device: str = "auto"
    max_iters: int | None = None
    stop_after: int | None = None
    freeze_bn: bool = False
    trust_checkpoint: bool = False   # --pretrained: foreign pickled objects read as inert records
    threads: int | None = None
    nproc: int = 1
    quiet: bool = False


_POS = Rule(int, lo=1, optional=True)
# TrainOptions field -> its rule (errors name the flag, --field-name); checked before the first iteration
OPTION_RULES: dict[str, Rule] = {
    "epochs": _POS, "batch_size": _POS, "samples_per_epoch": _POS, "workers": Rule(int, lo=0, optional=True),
    "save_every": Rule(int, lo=1), "save_interval": _POS, "keep_last": Rule(int, lo=0), "val_every": _POS,
    "val_sequences": Rule(int, lo=1), "seed": Rule(int, lo=0, hi=2**32 - 1), "max_iters": _POS,
    "stop_after": _POS, "threads": _POS, "nproc": Rule(int, lo=1),
    "amp": Rule(str, optional=True, choices=AMP_MODES),
}
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# TrainOptions fields `dt train` has no flag for (API only), and --nproc, which the launcher's ranks do not get
_NOT_FLAGS = ("val_sequences", "quiet", "nproc")


def rank_args(opts: TrainOptions) -> list[str]:
    """The `dt train` arguments that give each rank of `--nproc` these parsed options (every flag as --name=value,
    so a value with spaces, quotes or a leading '-' stays one value), whatever command line `dt` was started with
    (`python -m droptrack`, `python -m droptrack.train`, an entry point, the Python API)."""
    args: list[str] = []
    for f in fields(opts):
        value = getattr(opts, f.name)
        if f.name in _NOT_FLAGS:
            continue
        if isinstance(value, bool):   # every switch is off by default (--trust-checkpoint has no --no- form)
            args.extend([_flag(f.name)] if value else [])
        elif isinstance(value, list):
            args.extend(f"{_flag(f.name)}={v}" for v in value)
        elif value is not None:
            args.append(f"{_flag(f.name)}={value}")
    return args


def check_counts(threads: int | None, workers: int | None) -> None:
    """--threads at most MAX_THREADS (as every other command: torch overflowed, or failed to allocate, with a
    traceback) and --workers at most max(32, 4 x the cores) (10,000 forked loader processes hung the machine)."""
    from droptrack.engine.threads import MAX_THREADS
    from droptrack.train.loader import cpu_cores

    cores = cpu_cores()
    if threads is not None and threads > max(MAX_THREADS, cores):
        raise InputError(f"--threads {threads} is more than {max(MAX_THREADS, cores)} (this machine has {cores} usable "
                         f"cores); pass fewer, e.g. --threads {cores}")
    most = max(32, 4 * cores)
    if workers is not None and workers > most:
        raise InputError(f"--workers {workers} is more than {most} data-loading processes (this machine has {cores} "
                         f"usable cores); pass fewer, e.g. --workers {min(cores, 8)}")


def check_options(opts: TrainOptions) -> None:
    """Refuse out-of-range, wrong-type or unusable options with a one-line error naming the flag and the range."""
    for f in fields(opts):
        rule, value = OPTION_RULES.get(f.name), getattr(opts, f.name)
        if rule is not None and not (value is None and rule.optional):   # None: not given (the config's value)
            setattr(opts, f.name, check_value(_flag(f.name), value, replace(rule, optional=False)))   # no 'or null'
    check_counts(opts.threads, opts.workers)
    check_unused(opts)
    if isinstance(opts.device, str):   # any case and spacing, as dt run / eval / bench / serve take it
        opts.device = opts.device.strip().lower()
    if not isinstance(opts.device, str) or not _DEVICE.match(opts.device):
        raise ConfigError(f"--device: {opts.device!r} is not supported; allowed: auto, cpu, cuda or cuda:N")
    out = Path(opts.output)
    check_separators("--output", opts.output)
    check_reachable("--output", out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--output {str(out)!r} is a file; pass a directory (checkpoints, config and logs go there)")
    if "RANK" not in os.environ:   # one process, or dt's launcher before its ranks start (a rank's own rank 0 holds it)
        check_free(out)
    done = next((p.name for p in sorted(out.glob("*.pt")) if p.name in ("last.pt", "final.pt")
                 or p.name.startswith("checkpoint_ep")), None) if out.is_dir() else None
    if done is not None and not opts.resume:   # a fresh run would overwrite that run's checkpoints
        fix = "pass --resume to continue it, or another --output"   # final.pt alone: nothing a resume continues
        if done == "final.pt" and not any(out.glob("last.pt")) and not any(out.glob("checkpoint_ep*.pt")):
            fix = "a finished run, nothing to resume: pass another --output (and --pretrained to start from it)"
        raise InputError(f"--output {str(out)!r} holds another training run ({done}); {fix}")
    probe_output(out)   # also refuses a name no file system takes (a NUL), which the dataset check cannot read
    check_output_outside_data(opts, out)
    check_own_names(out)
    for name in ("pretrained", "val_data"):
        path = getattr(opts, name)
        if path is not None and not Path(path).exists():
            raise InputError(f"{_flag(name)} '{path}' not found; pass an existing path{embedded_hint(path)}"
                             f"{windows_note(path)}")
    check_pretrained_not_written(opts.pretrained, out)


def check_unused(opts: TrainOptions) -> None:
    """--val-every without --val-data and --trust-checkpoint without --pretrained are refused in one line: each was
    accepted and did nothing (no validation ran; no file was read)."""
    for flag, given, needs, other, value in (("--val-every", opts.val_every is not None, opts.val_data,
                                              "--val-data", "HELDOUT/"),
                                             ("--trust-checkpoint", opts.trust_checkpoint, opts.pretrained,
                                              "--pretrained", "FILE")):
        if given and not needs:
            raise InputError(f"{flag} is only used with {other}; add {other} {value} or drop {flag}")


RUN_FILE = re.compile(r"(last|final|checkpoint_ep\d+)\.pt")   # the checkpoints dt train writes (and prunes)


def check_pretrained_not_written(pretrained: str | Path | None, out: Path) -> None:
    """--pretrained that is one of the checkpoints dt train writes or prunes in --output (last.pt, final.pt,
    checkpoint_epNNNN.pt, also through a link) is refused: a resumed run deleted it (--keep-last) or wrote over it."""
    if pretrained is None or not Path(pretrained).is_file():
        return
    real = Path(os.path.realpath(pretrained))
    if RUN_FILE.fullmatch(real.name) and real.parent == Path(os.path.realpath(out)):
        raise InputError(f"--pretrained '{pretrained}' is {real.name} of --output '{out}', which dt train writes and "
                         "prunes; copy it out of that folder first, or pass another --output")


def check_own_names(out: Path) -> None:
    """The names dt train writes in --output that hold something it did not write are refused before any work:
    a config.yaml that is no config (it was replaced by the run's) and a file named tb (its TensorBoard folder; it
    was a FileExistsError traceback after the config was written)."""
    from droptrack.config import load_config
    from droptrack.errors import DropTrackError

    tb = out / "tb"
    if os.path.lexists(tb) and not tb.is_dir():
        raise InputError(f"--output {str(out)!r} holds a file 'tb', where dt train writes its TensorBoard folder; move "
                         "it away, or pass another --output")
    config = out / "config.yaml"
    if config.is_file():
        try:
            load_config(config)
        except DropTrackError:
            raise InputError(f"--output {str(out)!r} holds config.yaml, which is not a droptrack config (dt train "
                             "writes its own there); move it away, or pass another --output") from None
    elif os.path.lexists(config):
        raise InputError(f"--output {str(out)!r} holds 'config.yaml' that is not a file (dt train writes its config "
                         "there); move it away, or pass another --output")


def check_output_outside_data(opts: TrainOptions, out: Path) -> None:
    """--output neither a --data / --val-data folder nor inside one, nor inside any other dataset folder (as dt eval,
    bench and analyze refuse theirs): checkpoints and logs written there would be read as its sequences."""
    from droptrack.data.registry import check_output_outside_datasets
    from droptrack.paths import check_not_inside

    for src in [*parse_data_roots(opts.data).values(), opts.val_data]:
        if src is not None and out.exists() and same_file(out, src):
            raise InputError(f"--output {str(out)!r} is the dataset folder '{src}'; pass another directory for the "
                             "checkpoints, config and logs")
        check_not_inside("--output", out, src, "dataset folder")
    check_output_outside_datasets("--output", out)


def _output_failed(out: Path, exc: BaseException) -> InputError:
    why = getattr(exc, "strerror", None) or str(exc)
    return InputError(f"--output {str(out)!r} is not writable ({why}); pass a directory you can write to")


def probe_output(out: Path) -> None:
    """InputError unless `out` can be made and written; a missing one is made inside a throwaway folder beside it
    (removed at once), so a run refused later leaves nothing behind (make_output makes it once all checks pass)."""
    try:   # ValueError: a NUL byte in the path
        if out.is_dir():
            with tempfile.NamedTemporaryFile(dir=out, prefix=".dt-write-probe"):
                return
        above = out.absolute()
        while not os.path.lexists(above):   # a dangling symlink is not a folder: refused below, as mkdir would
            above = above.parent
        with tempfile.TemporaryDirectory(dir=above, prefix=".dt-write-probe") as tmp:
            probe = Path(tmp) / out.absolute().relative_to(above)
            probe.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=probe, prefix=".dt-write-probe"):
                pass
    except (OSError, ValueError) as exc:
        raise _output_failed(out, exc) from None


def make_output(out: Path) -> None:
    """Make the output folder (probed by check_options): only once every check of the run has passed."""
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        raise _output_failed(Path(out), exc) from None


def amp_mode(opts: TrainOptions, cfg: Config) -> str:
    """The mixed-precision mode: --amp if given, else fp16 autocast + GradScaler when TRAIN.AMP (official)."""
    if opts.amp is not None:
        return opts.amp
    return "fp16" if cfg.TRAIN.AMP else "off"


def prepare(opts: TrainOptions) -> Config:
    """The checked config with the checked command-line overrides applied (the reference batch is kept for LR
    scaling)."""
    cfg: Config = load_config(opts.config)
    backbone_spec(cfg)   # width, heads and CE blocks fit together: refused before the output folder is made
    check_crop_sizes(cfg)   # as build_model would, but before the datasets are listed
    check_data_names(parse_data_roots(opts.data), cfg.DATA.TRAIN.DATASETS_NAME)
    named = cfg.MODEL.PRETRAIN_FILE
    if opts.pretrained is None and not opts.resume and named and Path(named).is_file():   # else: trained from scratch
        raise ConfigError(f"MODEL.PRETRAIN_FILE names the file '{named}', which dt train does not load from the "
                          f"config; pass it with --pretrained {named} (or set MODEL.PRETRAIN_FILE to '' to train "
                          "from scratch)")
    check_options(opts)   # probes the output folder; the trainer makes it once the run's inputs are checked
    if opts.epochs is not None:
        cfg.TRAIN.EPOCH = opts.epochs
    ref = reference_batch(cfg)  # of the config as written, before any batch override
    if opts.batch_size is not None:
        cfg.TRAIN.BATCH_SIZE = opts.batch_size
    cfg.TRAIN.LR_REFERENCE_BATCH = ref
    if opts.samples_per_epoch is not None:
        cfg.DATA.TRAIN.SAMPLE_PER_EPOCH = opts.samples_per_epoch
    if opts.workers is not None:
        cfg.TRAIN.NUM_WORKER = opts.workers
    cfg.TRAIN.AMP = amp_mode(opts, cfg) != "off"
    global_batch = cfg.TRAIN.BATCH_SIZE * opts.nproc
    if cfg.DATA.TRAIN.SAMPLE_PER_EPOCH < global_batch:
        raise ConfigError(f"DATA.TRAIN.SAMPLE_PER_EPOCH {cfg.DATA.TRAIN.SAMPLE_PER_EPOCH} < global batch "
                          f"{global_batch} (BATCH_SIZE x processes): no full batch per epoch; raise "
                          "--samples-per-epoch or lower --batch-size")
    return cfg
