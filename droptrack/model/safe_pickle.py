"""Reading a PyTorch pickle checkpoint without running any of its code.

Every file is read with `weights_only=True`. Official training checkpoints also pickle the trainer's `settings` (an
EasyDict config, environment paths) and `stats` (loss meters), DropMAE's pre-training its `args` (an
argparse.Namespace); those few classes are read as inert `OfficialRecord`
dicts (registered with `torch.serialization.safe_globals` under their official names), never by importing the
official code. Anything else that is not plain data is refused unless the caller passes `trust=True`
(`--trust-checkpoint`): then the file is still read weights-only, each foreign class or function it names is read as
an inert `ForeignRecord` dict (its name and arguments), and a warning lists them; nothing in the file is imported or
called.
"""

from __future__ import annotations

import logging
import pickle
import pickletools
import warnings
import zipfile
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from collections import OrderedDict
from pathlib import Path

import torch
from torch import _weights_only_unpickler

from droptrack.errors import CheckpointError, few_names, printable

# the commands that take --trust-checkpoint: every one that reads a checkpoint (tests/test_trust_advice.py checks them)
TRUSTING = "dt run, dt serve, dt export, dt eval, dt bench, dt doctor, dt demo, dt train"


class UntrustedCheckpoint(CheckpointError):
    """A pickle checkpoint with foreign objects, read without --trust-checkpoint: the fix is that option on the same
    command (bad input, exit 2), not another file; dt bench refuses it before any work rather than failing a row."""


class OfficialRecord:
    """Stands in for a class of the official training code (settings, meters, EasyDict) while unpickling.

    It builds a plain OrderedDict: the pickle's items go into it and its attributes into the dict's __dict__
    (what the weights-only unpickler allows for OrderedDict), so nothing of the official code is imported or run.
    """

    def __new__(cls, *args, **kwargs) -> OrderedDict:
        return OrderedDict()


def foreign_record(name: str) -> type:
    """A stand-in for the class or function `name` of a legacy pickle: calling or instantiating it gives
    OrderedDict(__global__=name, args=[...]), so what the pickle would have called is recorded, never run."""

    def __new__(cls, *args, **kwargs) -> OrderedDict:
        return OrderedDict([("__global__", name), ("args", list(args)), *kwargs.items()])

    return type("ForeignRecord", (), {"__new__": __new__, "__doc__": f"inert stand-in for {name}"})


# Classes the official OSTrack/DropTrack trainer pickles next to `net` (lib/train/admin/*, easydict), and the
# command-line `args` the MAE/DropMAE pre-training pickles next to `model`.
OFFICIAL_RECORD_CLASSES = ("lib.train.admin.settings.Settings", "lib.train.admin.local.EnvironmentSettings",
                           "lib.train.admin.environment.EnvSettings", "lib.train.admin.stats.AverageMeter",
                           "lib.train.admin.stats.StatValue", "easydict.EasyDict",
                           "argparse.Namespace")   # MAE/DropMAE's save_model: {model, optimizer, epoch, scaler, args}


def _numpy_globals() -> list:
    """numpy scalars and arrays (meters and RNG states may hold them): rebuilt from bytes, no code."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    dtypes = [getattr(np.dtypes, n) for n in ("Float64DType", "Float32DType", "Int64DType", "Int32DType",
                                               "UInt32DType", "BoolDType") if hasattr(getattr(np, "dtypes", None), n)]
    names = ("numpy.core.multiarray", "numpy._core.multiarray")
    return [np.dtype, np.ndarray, *dtypes,
            *[(core.multiarray.scalar, f"{m}.scalar") for m in names],
            *[(core.multiarray._reconstruct, f"{m}._reconstruct") for m in names]]


def safe_globals() -> list:
    """What a weights-only load may build besides tensors and containers."""
    return [*((OfficialRecord, name) for name in OFFICIAL_RECORD_CLASSES), *_numpy_globals()]


def _pickle_globals(f) -> set[str]:
    """The classes and functions one pickle of the stream `f` names (GLOBAL, STACK_GLOBAL), read by disassembling
    it (pickletools): nothing is built or called."""
    found, pushed, memo = set(), [], {}
    for op, arg, _ in pickletools.genops(f):
        if op.name == "GLOBAL":   # protocol 2 (torch.save's) names Python 2 modules: read as torch's load maps them
            module, _, name = str(arg).partition(" ")
            module, name = NAME_MAPPING.get((module, name), (IMPORT_MAPPING.get(module, module), name))
            found.add(f"{module}.{name}")
        elif op.name == "STACK_GLOBAL" and len(pushed) >= 2 and all(isinstance(v, str) for v in pushed[-2:]):
            found.add(f"{pushed[-2]}.{pushed[-1]}")
        elif op.name in ("PUT", "BINPUT", "LONG_BINPUT") and pushed:
            memo[arg] = pushed[-1]
        elif op.name == "MEMOIZE" and pushed:
            memo[len(memo)] = pushed[-1]
        elif op.name in ("GET", "BINGET", "LONG_BINGET"):
            pushed.append(memo.get(arg))
        elif op.name not in ("FRAME", "PROTO"):
            pushed.append(arg if isinstance(arg, str) else None)
    return found


def _legacy_globals(path: Path) -> list[str]:
    """`_pickle_globals` of a legacy (non-zip) torch.save file: its magic number, protocol, system info and object
    pickles, one after another (the tensors' bytes follow them)."""
    names: set[str] = set()
    with open(path, "rb") as f:
        for _ in range(4):
            try:
                names |= _pickle_globals(f)
            except ValueError:   # the end of the file, or bytes that are no pickle: the pickles before it were read
                break
    allowed = set(_weights_only_unpickler._get_allowed_globals()) | \
        set(_weights_only_unpickler._get_user_allowed_globals())
    return sorted(names - allowed)


def _py3_name(name: str) -> str:
    """'module.attr' as Python 3 imports it (a protocol-2 pickle names subprocess.call 'commands.call', as the
    unpickler's fix_imports maps it back), as the legacy reader names it."""
    module, _, attr = name.rpartition(".")
    module, attr = NAME_MAPPING.get((module, attr), (IMPORT_MAPPING.get(module, module), attr))
    return f"{module}.{attr}"


def _unsafe_globals(path: Path) -> list[str]:
    """The classes and functions a pickle names beyond what a weights-only load allows (zip checkpoints, and legacy
    non-zip ones, disassembled)."""
    try:
        with torch.serialization.safe_globals(safe_globals()):
            if not zipfile.is_zipfile(path):
                return _legacy_globals(path)
            return sorted({_py3_name(n) for n in torch.serialization.get_unsafe_globals_in_checkpoint(str(path))})
    except Exception:  # noqa: BLE001 - a file that cannot be listed is refused by its load
        return []


def _torch_load(path: Path, lazy: bool = False):
    """torch.load, weights only, without torch's note on a pickle protocol it did not write (printed above the
    one-line error of a plain pickle that is no PyTorch file); `lazy`: a zip file's tensors mapped, not read."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        return torch.load(path, map_location="cpu", weights_only=True, mmap=lazy and zipfile.is_zipfile(path))


def untrusted(path: Path, names: list[str]) -> UntrustedCheckpoint | CheckpointError:
    """The refusal of a checkpoint that holds the foreign objects `names`, naming the option that reads it (one that
    calls into a module torch blocks outright: refused as no model file, the option would not read it)."""
    blocked = _blocked(names)
    if blocked:
        return blocked_calls(path, blocked)
    shown = few_names(names, 2) if names else "objects other than tensors"   # the line names a fix too
    return UntrustedCheckpoint(f"checkpoint '{path}' holds code-bearing objects ({shown}); not loaded, as a model "
                               "file must not run code. To read them as plain data (nothing runs), pass "
                               f"--trust-checkpoint ({TRUSTING}); elsewhere use DIR/model.safetensors from dt export "
                               "CKPT --trust-checkpoint --safetensors -o DIR")


def check_trusted(path: str | Path, trust: bool) -> None:
    """Refuse (`untrusted`) a zip pickle checkpoint whose pickle names foreign objects when `trust` is off, reading
    only its pickles' list of globals, not its tensors (dt bench checks a reference it found this way before any
    work); a .safetensors file or an unreadable file pass: their load says what is wrong."""
    path = Path(path)
    if trust or path.suffix.lower() == ".safetensors" or not path.is_file():
        return
    names = _unsafe_globals(path)
    if names:
        raise untrusted(path, names)


def load_pickle(path: Path, trust: bool, lazy: bool = False):
    """torch.load of a pickle checkpoint, weights only: the official trainer's records as inert dicts, any other
    foreign object refused, or with `trust` read as an inert ForeignRecord (a warning names them, unless `lazy`: a
    look at what the file says of itself, before the load that warns); never run. `lazy`: tensors not read."""
    try:
        with torch.serialization.safe_globals(safe_globals()):
            return _torch_load(path, lazy)
    except pickle.UnpicklingError as exc:
        if "global" not in str(exc).lower() and "reduce" not in str(exc).lower():
            raise
        names = _unsafe_globals(path)
        if not names:
            raise CheckpointError(f"checkpoint '{path}' is a legacy (non-zip) pickle whose objects cannot be listed; "
                                  "re-save it with a current torch.save from code you trust") from None
        if not trust:
            _as_records(path, names, lazy=True)   # offer --trust-checkpoint only where it reads the file
            raise untrusted(path, names) from None
    obj = _as_records(path, names, lazy)
    if not lazy:   # once read: a file refused above was not 'read as plain data records'
        logging.getLogger("droptrack").warning(
            "warning: '%s' (--trust-checkpoint): %s read as plain data records, never imported or called",
            printable(path), printable(few_names(names, 8)))
    return obj


def _as_records(path: Path, names: list[str], lazy: bool):
    """torch.load of a pickle checkpoint with each foreign name read as an inert ForeignRecord (nothing imported or
    called); a CheckpointError where even that cannot read it."""
    try:
        with torch.serialization.safe_globals([*safe_globals(), *((foreign_record(n), n) for n in names)]):
            return _torch_load(path, lazy)
    except pickle.UnpicklingError as exc:
        if "blocked" in str(exc):
            raise blocked_calls(path, names) from None
        # a call on a record (getattr(Path(...), 'touch')), or a name torch looks up under another module's name:
        # --trust-checkpoint does not read it either ('corrupt, re-download' misnamed it)
        raise CheckpointError(f"checkpoint '{path}' uses {few_names(names, 3)} in ways that cannot be read as plain "
                              "data, even with --trust-checkpoint (nothing was run): this is not a model file; "
                              "re-save the weights from code you trust") from None


def blocked_calls(path: Path, names: list[str]) -> CheckpointError:
    """The refusal of a pickle that calls into a module torch never loads, even as records (os, sys, ...)."""
    return CheckpointError(f"checkpoint '{path}' calls into {few_names(names, 3)}, which torch refuses to load "
                           "even as plain records (a blocked module such as os or sys): this is not a model file; "
                           "re-save the weights from code you trust")


def _blocked(names: list[str]) -> list[str]:
    """The names among `names` in a module torch's weights-only loader blocks outright (--trust-checkpoint cannot
    read them either, so it is not offered as the fix)."""
    blocked = set(getattr(_weights_only_unpickler, "_blocklisted_modules", ("os", "sys", "posix", "nt")))
    return [n for n in names if n.split(".", 1)[0] in blocked]
