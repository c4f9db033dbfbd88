"""ArtifactMeta: what a runtime needs to use a model file (sizes, factors, mean/std, precision), plus atomic writes."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import math
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from droptrack.errors import DropTrackError, MetadataError, OutputFull, full_error, full_message, no_room, shown
from droptrack.paths import writes_in_place

SCHEMA_VERSION = 1


@dataclass
class ArtifactMeta:
    """Self-description carried by every checkpoint, ONNX file (metadata_props) and engine sidecar."""

    arch: str                       # 'droptrack' | 'ostrack'
    config_name: str
    template_size: int
    search_size: int
    template_factor: float
    search_factor: float
    stride: int
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    precision: str = "fp32"
    ce: bool = False
    droptrack_version: str = ""
    checkpoint_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    tracker: dict[str, Any] = field(default_factory=dict)   # TEST extension keys set (runtime/extensions.py)

    @property
    def feat_size(self) -> int:
        """Side of the score map (search_size // stride)."""
        return self.search_size // self.stride

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-safe)."""
        d = dataclasses.asdict(self)
        d["feat_size"] = self.feat_size
        d["schema_version"] = SCHEMA_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ArtifactMeta":
        """Inverse of to_dict; ignores derived and unknown fields; a missing or malformed field -> MetadataError."""
        if not isinstance(d, dict):
            raise MetadataError(f"has a {type(d).__name__} as its metadata, not a JSON object; {REEXPORT}")
        version = d.get("schema_version", 1)   # none: metadata from before the field, the oldest schema
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            raise MetadataError(f"has metadata schema_version {version}, newer than this droptrack reads (up to "
                                f"{SCHEMA_VERSION}); upgrade droptrack (pip install -U droptrack) or re-export the "
                                "model with this version (`dt export CHECKPOINT`)")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        missing = [n for n, f in fields.items() if f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING and n not in d]
        if missing:
            raise MetadataError(f"has metadata without {', '.join(missing)}; {REEXPORT}")
        values = {k: v for k, v in d.items() if k in fields}
        for name, value in values.items():
            problem = _field_problem(name, value)
            if problem:
                raise MetadataError(f"has metadata '{name}' = {shown(value, 60)}, {problem}; {REEXPORT}")
        if values["stride"] > min(values["template_size"], values["search_size"]):
            raise MetadataError(f"has metadata 'stride' = {values['stride']}, larger than its crop sizes; {REEXPORT}")
        return cls(**values)

    def to_strings(self) -> dict[str, str]:
        """Flat str->str mapping for ONNX metadata_props (values JSON-encoded)."""
        return {f"droptrack.{k}": json.dumps(v) for k, v in self.to_dict().items()}

    @classmethod
    def from_strings(cls, props: dict[str, str]) -> "ArtifactMeta":
        """Inverse of to_strings; a value that is not JSON -> MetadataError."""
        d = {}
        for k, v in props.items():
            if k.startswith("droptrack."):
                try:
                    d[k[len("droptrack."):]] = json.loads(v)
                except (ValueError, RecursionError):
                    raise MetadataError(f"has metadata '{k}' = {shown(v, 60)}, which is not JSON; {REEXPORT}") from None
        return cls.from_dict(d)


REEXPORT = "re-export the model with `dt export CHECKPOINT` (or re-download it from its source)"
MAX_SIZE = 4096          # px: a crop side beyond any tracker's
MIN_FACTOR, MAX_FACTOR = 0.5, 100.0   # crop side / target side
PRECISIONS = ("fp32", "fp16", "int8")   # what dt export writes


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _field_problem(name: str, v: Any) -> str:
    """Why metadata field `name` cannot be `v` ('' when it can): types and ranges the runtime relies on."""
    if name in ("template_size", "search_size", "stride"):
        ok = isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_SIZE
        return "" if ok else f"expected a whole number of pixels from 1 to {MAX_SIZE}"
    if name in ("template_factor", "search_factor"):
        ok = _number(v) and MIN_FACTOR <= v <= MAX_FACTOR   # 1e-200: an infinite crop scale at the first frame
        return "" if ok else f"expected a number from {MIN_FACTOR:g} to {MAX_FACTOR:g}"
    if name in ("mean", "std"):
        ok = isinstance(v, (list, tuple)) and len(v) == 3 and all(_number(x) for x in v)
        ok = ok and (name == "mean" or all(x > 0 for x in v))
        return "" if ok else f"expected 3 finite numbers{' above 0' if name == 'std' else ''} (R, G, B)"
    if name == "ce":
        return "" if isinstance(v, bool) else "expected true or false"
    if name in ("extra", "tracker"):
        if not (isinstance(v, dict) and all(isinstance(k, str) for k in v)):
            return "expected a JSON object"
        return _tracker_problem(v) if name == "tracker" else ""
    if name == "precision":   # dt bench picks its gates by it and shows it in a rich table
        return "" if v in PRECISIONS else f"expected one of {', '.join(PRECISIONS)}"
    if isinstance(v, str) and re.search("[\x00-\x1f\x7f-\x9f]", v):   # printed in lines and tables: no escapes
        return "expected a short text without control characters"
    return "" if isinstance(v, str) and len(v) <= 256 else "expected a short text"


def _tracker_problem(keys: dict) -> str:
    """Why tracker-extension keys from a file cannot be used ('' when they can): each a TEST key droptrack knows, in
    its range (checked when the file is read, so dt doctor and dt bench refuse it before any work, as dt run does)."""
    from droptrack.config_rules import TRACKER_EXT_RULES, check_value
    from droptrack.errors import ConfigError

    unknown = sorted(k for k in keys if k not in TRACKER_EXT_RULES)
    if unknown:
        return f"whose key {unknown[0]!r} is not a tracker-extension TEST key"
    for k, v in keys.items():
        try:
            check_value(f"TEST.{k}", v, TRACKER_EXT_RULES[k])
        except ConfigError as exc:
            return f"whose {str(exc)[:200]}"
    return ""


# checkpoint files dt run, serve, eval, bench and doctor accept (.safetensors: weights only, never code; any case)
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".tar", ".ckpt", ".bin", ".safetensors")


def artifact_format(path: str | Path | None) -> str:
    """'onnx', 'engine' or 'torch' (a checkpoint, or None: the embedded model) by the suffix, in any case
    ('MODEL.ONNX' from a FAT stick is an ONNX graph)."""
    suffix = "" if path is None else Path(str(path)).suffix.lower()
    return {".onnx": "onnx", ".engine": "engine"}.get(suffix, "torch")


def _holds(head: bytes) -> str:
    """What the first bytes of a model file look like: 'torch' (zip, pickle or tar archive), 'safetensors', 'onnx'
    (a protobuf whose first field is ONNX's ir_version), 'empty' or 'other'."""
    if not head:
        return "empty"
    # safetensors first: its 8-byte header length (padded to 8) starts with 0x80, a pickle's first byte, 1 time in 32
    if len(head) > 8 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000:
        return "safetensors"
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80" or head[257:262] == b"ustar":
        return "torch"
    return "onnx" if head[:1] == b"\x08" else "other"


def _parses_as_onnx(path: Path) -> bool:
    """Whether the whole file parses as an ONNX model (only asked when its first bytes are unusual)."""
    try:
        import onnx

        onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - any parse failure: not an ONNX model
        return False
    return True


def content_problem(path: str | Path) -> str | None:
    """Why a model file's bytes are not the kind its suffix names (a text file renamed .pt or .onnx, an ONNX graph
    named .pt, a checkpoint named .onnx, an empty download), or None; reads the file's first 512 bytes (and parses an
    .onnx file whose first byte is unusual). TensorRT engines are not checked (their format is TensorRT's)."""
    path = Path(path)
    suffix, kind = path.suffix.lower(), artifact_format(path)
    if kind == "engine" or not path.is_file():
        return None
    with open(path, "rb") as f:
        head = f.read(512)
    found = _holds(head)
    want = "safetensors" if suffix == ".safetensors" else kind
    if found == want or (found == "other" and kind == "onnx" and _parses_as_onnx(path)):
        return None
    names = {"torch": "a PyTorch checkpoint", "safetensors": "a .safetensors checkpoint", "onnx": "an ONNX graph"}
    named = f"is named {suffix}" if suffix else "has no suffix"   # 'is named  but' read as a typo
    if found == "empty":
        return f"'{path}' is empty (0 bytes), not {names[want]}: an interrupted download or copy; fetch or export it again"
    if found == "onnx" and kind == "torch" and _parses_as_onnx(path):
        return (f"'{path}' {named} but holds an ONNX graph, not {names[want]}; rename it to .onnx (where a "
                "checkpoint is needed, pass the checkpoint it was exported from)")
    if found in ("torch", "safetensors") and found != want:
        return (f"'{path}' {named} but holds {names[found]}, not {names[want]}; rename it to "
                f"{'.pt' if found == 'torch' else '.safetensors'} (or pass the file you meant)")
    from droptrack.imagefiles import IMAGE_EXTS
    from droptrack.videofiles import VIDEO_EXTS

    # what writes the kind wanted: dt export writes graphs, not checkpoints (it reads one, or the default model)
    maker = ("an ONNX graph, e.g. one written by `dt export`" if want == "onnx" else
             "a checkpoint (.pt / .pth.tar / .safetensors), e.g. one written by `dt train`")
    media = "a video" if suffix in VIDEO_EXTS else "an image" if suffix in IMAGE_EXTS else None
    if media:   # `dt export clip.mp4`: the clip where the model goes (it was 'a file renamed .mp4?')
        return f"'{path}' is {media} ({suffix}), not {names[want]}; pass {maker}"
    return (f"'{path}' is corrupt or not {names[want]} (a text file or another kind of file renamed {suffix}?); pass "
            f"the real model file: {maker}")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


_TEMP_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"   # mkstemp's: names stay `.<name>.<8 of these>.tmp`


def _new_temp(path: Path) -> Path:
    """An empty new file `.<name>.<random>.tmp` beside `path`. Not mkstemp: a stop signal raised as an exception
    (Ctrl-C, SIGTERM, SIGHUP) just after it created the file left the file behind, as the name was not yet known."""
    while True:
        tmp = path.parent / f".{path.name}.{''.join(secrets.choice(_TEMP_CHARS) for _ in range(8))}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600))
            return tmp
        except FileExistsError:   # the name is another file's: nothing of ours to remove
            continue
        except BaseException:     # an interrupt as the file was made: the name was free, so the file is ours
            tmp.unlink(missing_ok=True)
            raise


def _temp_for(path: Path, kept: str = "", mkdir: bool = False) -> Path:
    """`_new_temp(path)` (its folder made first with `mkdir`); no inode left (or an inode quota) is OutputFull naming
    the file being written, not its temporary (`kept`: what the message says was kept)."""
    try:
        if mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        return _new_temp(path)
    except OSError as exc:
        if full_error(exc) is not None:
            raise OutputFull(full_message(exc, path, kept)) from None
        raise


def atomic_write(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Call writer(tmp_path) then rename onto `path`: readers never see a half-written file."""
    path = Path(path)
    if writes_in_place(path):   # /dev/null: renaming a file onto it would replace the device
        writer(path)
        return path
    tmp = _temp_for(path, mkdir=True)
    try:
        os.chmod(tmp, 0o644)  # created 0600 as mkstemp does; results and models are ordinary shared files
        writer(Path(tmp))
        os.replace(tmp, path)
    except BaseException as exc:
        # torch.save reports a full disk as a RuntimeError ('unexpected pos'): checked before the temp file goes
        why = full_error(exc) or (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) if isinstance(exc, Exception)
                                  and not isinstance(exc, DropTrackError) and no_room(path.parent) else None)
        Path(tmp).unlink(missing_ok=True)
        if why is not None:   # name the file: a write on an open file does not
            raise OutputFull(full_message(why, path)) from None
        raise
    return path


def write_temp(path: str | Path, data: bytes, kept: str = "") -> Path:
    """`data` in a new temporary `.<name>.<random>.tmp` beside `path`, not moved into place: the caller renames it
    together with other files written so, as one set (dt analyze's plots and report.json). A full disk is OutputFull
    naming `path` (`kept`: what the message says was kept), the temporary removed."""
    path = Path(path)
    tmp = _temp_for(path, kept)
    try:
        os.chmod(tmp, 0o644)
        tmp.write_bytes(data)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        why = full_error(exc)
        if why is not None:
            raise OutputFull(full_message(why, path, kept)) from None
        raise
    return tmp


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically."""
    return atomic_write(path, lambda p: p.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text atomically."""
    return atomic_write_bytes(path, text.encode())


def json_bytes(obj: Any) -> bytes:
    """`obj` as the JSON files droptrack writes hold it (indented, a final newline)."""
    return (json.dumps(obj, indent=2, default=str) + "\n").encode()


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON (indented, `json_bytes`) atomically."""
    return atomic_write_bytes(path, json_bytes(obj))


def atomic_savez(path: str | Path, arrays: dict) -> Path:
    """np.savez atomically, through a file object (given a path, numpy appends '.npz' to the temporary name)."""
    import numpy as np

    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez(f, **arrays)

    return atomic_write(path, write)


def _sync(fd: int) -> None:
    """fsync `fd`; a file that cannot be synced (/dev/null, a pipe, a file system without it) is left as it is."""
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EROFS, errno.ENOTSUP, errno.EBADF):
            raise


def sync_folder(folder: Path) -> None:
    """fsync a folder, so a file just renamed into it keeps its name after a power loss (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        _sync(fd)
    finally:
        os.close(fd)


def atomic_torch_save(path: str | Path, obj: Any) -> Path:
    """torch.save atomically, through a file object: torch names the archive inside after a path it is given (here
    the random temporary one), so saving by path made equal checkpoints differ byte for byte (and by sha256). The
    bytes are on disk before the rename, and the rename before it returns: after a power loss or a kernel crash the
    name holds the old checkpoint or the new one, never a new name over missing data (a file system may put a
    rename on disk before the data it renames)."""
    import torch

    def write(p: Path) -> None:
        with open(p, "wb") as f:
            torch.save(obj, f)
            f.flush()
            _sync(f.fileno())

    done = atomic_write(path, write)
    if not writes_in_place(done):
        sync_folder(done.parent)
    return done
