"""PyTorch files from elsewhere, bounded in memory: checked before torch.load reads them and after, before any
tensor is used.

A .pt / .pth.tar file is a zip archive. torch.load reads each entry whole, at the size the archive's directory
declares, and inflates compressed ones (torch.save never compresses), so a small file could declare gigabytes:
deflated zeros, or many entries over the same bytes. A tensor in the file may also be a view with stride 0 over one
number, which holds billions of elements in a few bytes; the first operation on it (the NaN check) would allocate
them all. Both are refused in one line before that memory is taken, as are state dicts whose entries are not
tensors under text keys and droptrack-format files whose parts have other types than droptrack writes.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from typing import Any, Iterator

import torch

from droptrack.errors import CheckpointError

SLACK = 64 << 20   # bytes an archive may declare beyond twice its size (compressed weights shrink by 10 % at most)
MAX_HEADER = 4 << 20   # bytes of a .safetensors JSON header: a tracker's few hundred tensors take tens of KB


def header_problem(path: str | Path) -> str:
    """Why a .safetensors file's header must not be parsed ('' when it may): it declares more than MAX_HEADER bytes
    (the safetensors library allows 100 MB: a million empty tensors, 16 s and 2 GB before any check here)."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
    if size <= MAX_HEADER:
        return ""
    return (f"has a header of {size / 2**20:.0f} MiB, larger than a model's can be ({MAX_HEADER >> 20} MiB at most; "
            "a tracker's is tens of KB), so it was not read")


def archive_problem(path: str | Path, crc: bool = True) -> str:
    """Why a zip checkpoint must not be handed to torch.load ('' when it may, or when it is not a zip): its entries
    declare more than twice the bytes the file holds (a compression or overlap bomb: 1000 times is easy), or (`crc`:
    its weights are to be read) an entry fails its CRC."""
    try:
        with zipfile.ZipFile(path) as zf:
            declared = sum(info.file_size for info in zf.infolist())
            size = os.path.getsize(path)
            # bounded, then each entry against its CRC: torch.load does not check them, and a flipped run of bytes
            # (a bad transfer or disk) tracked with finite garbage weights, dt doctor saying "ok"
            bad = zf.testzip() if crc and declared <= 2 * size + SLACK else None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        return ""   # not a zip (a legacy pickle), or a damaged one: torch.load names that
    if bad is not None:
        return (f"is damaged: its entry '{bad[:80]}' fails its CRC check (changed in a transfer or on disk), so it was "
                "not read; download or copy it again")
    if declared <= 2 * size + SLACK:
        return ""
    return (f"declares {declared / 2**20:.0f} MiB of entries in a file of {size / 2**20:.0f} MiB (compressed or "
            "overlapping entries, which torch.save never writes), so it was not read; re-download it or re-save "
            "the weights with torch.save")


def _first_members(tf, n: int) -> list:
    out = []
    while len(out) < n and (member := tf.next()) is not None:
        out.append(member)
    return out


def unreadable_note(path: str | Path) -> str:
    """Why torch.load could not read a file that looks like a checkpoint, in the user's terms ('' when no more is
    known): a PyTorch zip archive cut short (a half-finished download: its directory at the end is missing), or a tar
    archive made around the checkpoint (a `.pth.tar` name is a PyTorch zip, not a tar, in the official releases)."""
    import tarfile

    with open(path, "rb") as f:
        head = f.read(30 + 256)   # the first zip entry's local header and name: torch.save writes <name>/data.pkl
    name = head[30:30 + int.from_bytes(head[26:28], "little")]
    if head[:4] == b"PK\x03\x04" and name.endswith(b"/data.pkl") and not zipfile.is_zipfile(path):
        return (f"is cut short ({os.path.getsize(path)} bytes, a zip archive without its end: an interrupted download "
                "or copy); download it again completely")
    try:
        with tarfile.open(path, "r:") as tf:   # plain tar only, its first members only: nothing inflated
            names = [member.name for member in _first_members(tf, 3)]
    except (tarfile.TarError, OSError, ValueError, EOFError):
        return ""
    shown = ", ".join(repr(n[:60]) for n in names) or "nothing"
    return (f"is a tar archive (holding {shown}), not a PyTorch file; extract it (tar xf '{path}') and pass the "
            "checkpoint inside")


def _tensors(obj: Any) -> Iterator[tuple[str, torch.Tensor]]:
    """(key, tensor) of every tensor in nested dicts, lists and tuples, each container visited once."""
    seen, stack = set(), [("", obj)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, torch.Tensor):
            yield key, item
        elif isinstance(item, (dict, list, tuple)) and id(item) not in seen:
            seen.add(id(item))
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((str(k) if not key else f"{key}.{k}", v) for k, v in pairs)


def tensor_problem(obj: Any) -> str:
    """Why a loaded checkpoint's tensors must not be used ('' when they may): one is not a plain dense tensor, or
    holds more elements than its storage has room for (a stride-0 view that any operation would expand)."""
    for key, t in _tensors(obj):
        if t.layout != torch.strided:
            return f"tensor {key[:60]!r} is {str(t.layout).removeprefix('torch.')}, not a dense tensor"
        try:
            room = t.untyped_storage().nbytes()
        except (RuntimeError, NotImplementedError):
            return f"tensor {key[:60]!r} has no plain storage"
        if t.numel() * t.element_size() > room:
            shape = "x".join(str(d) for d in t.shape)
            return (f"tensor {key[:60]!r} claims {shape} elements over {room} bytes of data (a repeated view that "
                    "would take that much memory)")
    return ""


def check_named(state: dict, path: str | Path) -> None:
    """Every entry of a state dict is a tensor under a text key (a file from elsewhere may hold anything)."""
    wrong = next((k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if wrong is not None:
        raise CheckpointError(f"checkpoint '{path}': weight {str(wrong)[:60]!r} is not a named tensor; re-download "
                              "the file or point to the right one")


def check_layout(obj: dict, path: str | Path) -> None:
    """A droptrack-format checkpoint's parts have the types save_checkpoint writes (a file from elsewhere may not)."""
    want = {"config": dict, "net": dict, "config_name": str, "variant": str}
    for key, kind in want.items():
        if key in obj and not isinstance(obj[key], kind) or key in ("config", "net") and key not in obj:
            raise CheckpointError(f"checkpoint '{path}' has {type(obj.get(key)).__name__} '{key}', expected a "
                                  f"{'mapping' if kind is dict else 'text'}; it is damaged or not written by "
                                  "droptrack: re-download it or point to the right file")
        if kind is str and len(obj.get(key, "")) > 256:   # printed in messages and logs
            raise CheckpointError(f"checkpoint '{path}' has a '{key}' of {len(obj[key])} characters, not a name; it "
                                  "is damaged or not written by droptrack: re-download it or point to the right file")
        if kind is str and re.search("[\x00-\x1f\x7f-\x9f]", obj.get(key, "")):   # terminal escape sequences
            raise CheckpointError(f"checkpoint '{path}' has a '{key}' with control characters, not a name; it is "
                                  "damaged or not written by droptrack: re-download it or point to the right file")


DDP_PREFIX = "module."


def net_state(obj: dict) -> Any:
    """The weights of an official-layout file: its `net` (the whole dict when it has none), without the `module.`
    prefix a DistributedDataParallel-wrapped model's state_dict puts on every key (the official trainer saves the
    unwrapped net, but fine-tuning scripts often save the wrapper)."""
    state = obj.get("net", obj)
    if isinstance(state, dict) and any(isinstance(k, str) and k.startswith(DDP_PREFIX + "backbone.") for k in state):
        return without_ddp_prefix(state)
    return state


def without_ddp_prefix(state: dict) -> dict:
    """`state` without the `module.` prefix a DistributedDataParallel wrapper puts on every key (as it is when any
    key lacks it)."""
    if state and all(isinstance(k, str) and k.startswith(DDP_PREFIX) for k in state):
        return {k[len(DDP_PREFIX):]: v for k, v in state.items()}
    return state
