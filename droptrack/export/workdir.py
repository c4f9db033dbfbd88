"""`dt export`'s output folder: the file names it writes, its checks, and one export at a time in it.

A killed export (kill -9, a lost SSH session, the OOM killer) leaves its hidden temp folders (`.dt-export-*`,
`.dt-fp16-*`, `.dt-int8-*`, `.dt-ort-*`, `.dt-auto-*`: every precision-search candidate, about one graph each) and the
temp files of atomic writes (`.<name>.<random>.tmp`, for the names it writes); none is ever read as a model, and the
next export into the folder removes them (another file's temp name there is the user's, kept). It may do so safely
because an export holds the folder's lock (`.dt-export.lock`, removed when it ends) while it writes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Iterator

from droptrack import filelock
from droptrack.errors import ExportError, folder_where_a_file_goes

FILENAMES = {"fp32": "model.onnx", "fp16": "model_fp16.onnx", "int8": "model_int8_trt.onnx"}
INT8_FILENAMES = {"trt": "model_int8_trt.onnx", "ort": "model_int8_ort.onnx"}   # `--int8` writes both
ORT_FP32 = "model_ort.onnx"   # `--ort`: FP32 for ONNX Runtime, a frame's crops in one call (droptrack.export.ort_graph)
SAFETENSORS = "model.safetensors"
PARITY = "parity.json"   # every export's parity rows (droptrack.export.parity)
MAX_HEADER = 4 << 20   # bytes: droptrack's readers refuse a larger .safetensors header
LOCK = ".dt-export.lock"
TEMP_DIRS = (".dt-export-", ".dt-fp16-", ".dt-int8-", ".dt-auto-", ".dt-ort-")   # the pipeline's steps' tempfiles
ATOMIC_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")   # droptrack.artifact's mkstemp names, `.<name>.<random>.tmp`


def written_names() -> set[str]:
    """Every file an export writes into its folder: the graphs and their `.failed` forms, the engines with their
    sidecars (also as `.failed` / `.unchecked`), parity.json, the precision-search reports and model.safetensors."""
    graphs = {*FILENAMES.values(), *INT8_FILENAMES.values(), ORT_FP32}
    ends = ("", ".json", ".failed", ".failed.json", ".unchecked", ".unchecked.json")
    engines = {g.replace(".onnx", ".engine") + end for g in graphs for end in ends}
    reports = {PARITY, SAFETENSORS, *(f"auto_precision_{t}.json" for t in INT8_FILENAMES)}
    return {*graphs, *(g + ".failed" for g in graphs), *engines, *reports}


def check_replaceable(output_dir: str | Path) -> None:
    """Every file of the folder that an export replaces may be replaced by this user; else a one-line error (checked
    with the other options, before any work)."""
    from droptrack.paths import replace_denied

    out = Path(output_dir).expanduser()
    for name in sorted(written_names()):   # one this user may not replace: before any work
        why = replace_denied(out / name)
        if why is not None:
            raise ExportError(f"--output '{output_dir}' holds '{name}', which this export replaces, and it {why}")


def check_own_graphs(output_dir: str | Path, precs: list[str], int8_targets: tuple[str, ...],
                     safetensors: bool = False, ort: bool = False) -> None:
    """A graph (or, with `safetensors`, a model.safetensors), or a parity.json, in the folder under a name this export
    writes that no `dt export` wrote (no droptrack metadata: another tool's export, a hand-edited graph, other
    weights, another tool's or a user's parity.json, any other file) is refused before any work: it would be
    replaced unread."""
    from droptrack.export.parity import own_parity_json

    names = [FILENAMES["fp32"]] + [FILENAMES["fp16"]] * ("fp16" in precs) + \
        [INT8_FILENAMES[t] for t in int8_targets if "int8" in precs] + [ORT_FP32] * ort + \
        [SAFETENSORS] * safetensors + [PARITY]
    out = Path(output_dir).expanduser()
    for name in dict.fromkeys(names):
        if (out / name).is_dir() and not (out / name).is_symlink():   # dt's wording for this everywhere, before work
            raise ExportError(folder_where_a_file_goes(out / name))
        if os.path.lexists(out / name) and not (out / name).is_file():   # parity.json is read: a pipe never ends
            raise ExportError(f"--output '{output_dir}' holds '{name}', which this export writes, and it is not a "
                              "regular file (a folder, pipe, device or broken link); move it away, or pass another "
                              "--output")
        own = {SAFETENSORS: _droptrack_weights, PARITY: own_parity_json}.get(name, _droptrack_graph)
        if (out / name).is_file() and not own(out / name):
            what = "no JSON object with an 'artifacts' object" if name == PARITY else "no droptrack metadata"
            raise ExportError(f"--output '{output_dir}' holds '{name}', which this export would replace, and no dt "
                              f"export wrote it (it has {what}); move it away, or pass another --output")
    for target in int8_targets if "int8" in precs else ():   # written by --auto-precision, removed without it
        report = out / f"auto_precision_{target}.json"
        if os.path.lexists(report) and not _own_search_report(report, target):
            raise ExportError(f"--output '{output_dir}' holds '{report.name}', which this export writes or removes, "
                              "and no dt export wrote it (no JSON object of a precision search for "
                              f"{target}); move it away, or pass another --output")


def _own_search_report(path: Path, target: str) -> bool:
    """Whether `path` is an auto_precision_<target>.json that `dt export --auto-precision` wrote: a regular file
    holding a JSON object of that target's search (a user's file of the name was removed or replaced unread)."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("target") == target and {"max_divergence", "val"} <= data.keys()


def _droptrack_graph(path: Path) -> bool:
    """Whether an ONNX file carries the metadata `dt export` writes (its external weights are not read)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:   # not an ONNX file at all (protobuf's DecodeError, an OSError)
        return False
    return any(p.key == "droptrack.arch" for p in model.metadata_props)


def weights_metadata(path: Path) -> dict:
    """A .safetensors file's header metadata ({} when it is short, unreadable, too big or not JSON), read without its
    tensors: what tells `dt export --safetensors`'s file (format droptrack) and the checkpoint it names."""
    import json
    import struct

    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size)) if size <= MAX_HEADER else None
    except (OSError, struct.error, ValueError, RecursionError):   # short, unreadable or not JSON: not droptrack's
        return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def _droptrack_weights(path: Path) -> bool:
    """Whether a .safetensors file's header metadata is the one `dt export --safetensors` writes (format droptrack)."""
    return weights_metadata(path).get("format") == "droptrack"


def prepare_output_dir(output_dir: str | Path) -> Path:
    """Create the output folder; a path that is a file, a system path or unwritable -> one-line error."""
    from droptrack.paths import check_output_dir

    out = check_output_dir("--output", output_dir)
    check_replaceable(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create output folder '{out}' ({exc.strerror}); pass a writable --output DIR")
    return out


@contextlib.contextmanager
def made_output_dir(output_dir: str | Path) -> Iterator[Path]:
    """`prepare_output_dir` for the work in the with block: when that work fails (a refused --keep-fp32 pattern, an
    interrupt), the folders this made are removed again if nothing was written into them (no new empty folder is
    left behind); a folder that existed before, or holds anything, is kept (`paths.removed_if_left_empty`)."""
    from droptrack.paths import removed_if_left_empty

    with removed_if_left_empty(os.path.expanduser(output_dir)):   # where check_output_dir makes it
        yield prepare_output_dir(output_dir)


def remove_stale_temp(out: Path, names: tuple[str, ...] | None = None) -> list[Path]:
    """Delete what a killed export left in `out` (its temp folders and the atomic-write temp files of the files it
    writes, `written_names`); returns them. Another file's temp name in the folder is the user's, kept. `names`
    (a folder that is not an export's own): only these files' temp files, no folder."""
    own = names is None
    wanted = written_names() if own else set(names)
    gone = []
    for p in sorted([*out.glob(".dt-*"), *out.glob(".*.tmp"), *(out.glob(".auto_precision/.*.tmp") if own else [])]):
        atomic = ATOMIC_TEMP.match(p.name) is not None and (p.is_file() or p.is_symlink())
        if own and p.is_dir() and not p.is_symlink() and p.name.startswith(TEMP_DIRS):
            shutil.rmtree(p, ignore_errors=True)
        elif atomic and (p.parent != out or p.name[1:].rsplit(".", 2)[0] in wanted):   # .auto_precision/: all ours
            p.unlink(missing_ok=True)
        else:
            continue
        gone.append(p)
    return gone


@contextlib.contextmanager
def exclusive(out: Path, names: tuple[str, ...] | None = None) -> Iterator[None]:
    """Hold `out`'s export lock and remove a killed export's leftovers; another export writing there is a one-line
    error (a caller that holds it passes `locked` on). The lock file is removed at the end, a killed export's is
    reused and removed, and a file system without working locks exports unlocked (droptrack.filelock).
    `names` (`dt export GRAPH.onnx --engine`, in the graph's own folder): only these files' temp files are removed."""
    fix = ("wait for it to finish or pass another --output" if names is None
           else "wait for it to finish, then run this again")
    with filelock.held(out / LOCK, f"another dt export is writing to '{out}'; {fix}", ExportError):
        remove_stale_temp(out, names)
        yield
