"""TensorRT engine build from an exported ONNX graph, with a build cache and a sidecar JSON.

`model.engine` is the plain serialized plan (usable by trtexec, DeepStream, Triton); `model.engine.json` holds
the TensorRT / CUDA / driver versions, GPU name and compute capability, precision, ONNX sha256, I/O shapes
and the ArtifactMeta. A build is reused when `engine_cache_key` of the request equals the one stored in
the sidecar (or in the user cache folder); any change rebuilds, droptrack's own builder settings (BUILD_RECIPE)
included. A timing cache per device + TensorRT + CUDA is reused across builds. The engine cache keeps at most
CACHE_LIMIT_BYTES of engines (least recently used removed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from droptrack.artifact import ArtifactMeta, atomic_write, atomic_write_bytes, atomic_write_json
# BUILD_RECIPE: how `_build_plan` builds, part of the cache key (engines built the old way are rebuilt, not reused);
# defined where loading checks it
from droptrack.engine.tensorrt_backend import BUILD_RECIPE
from droptrack.errors import ExportError, InputError, OutputFull
from droptrack.paths import cache_root

SIDECAR_FORMAT = "droptrack-engine"
DEFAULT_WORKSPACE_GB = 4.0
CACHE_LIMIT_BYTES = 5 << 30   # the engine cache's size, as Torch-TensorRT's on-disk cache: least recently used go first


class TensorRTUnavailable(ExportError):
    """No TensorRT or no CUDA GPU on this machine."""


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def engine_cache_key(onnx_sha256: str, precision: str, env: dict[str, str], io_shapes: dict[str, Any],
                     meta: dict[str, Any], workspace_bytes: int, typing: str = "strong",
                     recipe: int | None = None) -> str:
    """Content key of one engine build request (pure; any change of any input changes the key); `recipe`: the build
    recipe's version (None: BUILD_RECIPE, this droptrack's)."""
    env_keys = ("tensorrt", "cuda", "driver", "gpu", "compute_capability")
    return _digest({"onnx_sha256": onnx_sha256, "precision": precision, "typing": typing,
                    "env": {k: env.get(k, "") for k in env_keys}, "io": io_shapes, "meta": meta,
                    "workspace_bytes": int(workspace_bytes), "recipe": BUILD_RECIPE if recipe is None else recipe})


def timing_cache_key(env: dict[str, str]) -> str:
    """A timing cache is valid for one device + TensorRT + CUDA version only."""
    return _digest({k: env.get(k, "") for k in ("tensorrt", "cuda", "gpu", "compute_capability")})[:16]


def cache_dir(path: str | Path | None = None) -> Path:
    """Engine/timing cache folder: `path`, else $DT_CACHE_DIR, else ~/.cache/droptrack/tensorrt."""
    if path is not None:
        return Path(path)
    return cache_root() / "tensorrt"


def onnx_io_shapes(model, onnx_path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Static I/O shapes and element types of an onnx.ModelProto (read from `onnx_path`, named in errors); an input
    or output without an element type (a damaged or hand-edited graph) is a one-line ExportError."""
    import onnx

    from droptrack.engine.onnx_files import untyped_io

    problem = untyped_io(model, onnx_path.name if onnx_path is not None else "")
    if problem:
        raise ExportError(problem)
    out = {}
    for kind, values in (("input", model.graph.input), ("output", model.graph.output)):
        for v in values:
            t = v.type.tensor_type
            dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name
            out[v.name] = {"kind": kind, "shape": [d.dim_value if d.HasField("dim_value") else d.dim_param
                                                   for d in t.shape.dim], "dtype": dtype}
    return out


def check_fixed_sizes(onnx_path: Path, io_shapes: dict[str, dict[str, Any]]) -> None:
    """Refuse a graph with a dynamic dimension before the builder runs: engines are built without optimization
    profiles (TensorRT then fails after its parse with 'no optimization profile has been defined') and the backend
    binds fixed-size buffers; `dt export CHECKPOINT` writes fixed sizes."""
    for name, io in io_shapes.items():
        dynamic = [d for d in io["shape"] if not (isinstance(d, int) and d > 0)]
        if dynamic:
            raise ExportError(f"{io['kind']} '{name}' of {onnx_path.name} has a dynamic size {io['shape']}; TensorRT "
                              "engines here are built for fixed sizes: export the graph again with `dt export "
                              "CHECKPOINT`, which writes them")


def check_tracker_io(onnx_path: Path, io_shapes: dict[str, dict[str, Any]], meta: ArtifactMeta) -> None:
    """Refuse, before the builder runs, a graph whose I/O is not the tracker's (float32 template and search crops of
    its metadata's sizes in, the three maps out, of a type the loader reads: `map_type_problem`): every dt command
    refuses its engine (`TensorRTBackend`), after a build of minutes."""
    from droptrack.engine.base import INPUT_NAMES, OUTPUT_NAMES
    from droptrack.engine.tensorrt_backend import map_type_problem

    names = {kind: sorted(n for n, io in io_shapes.items() if io["kind"] == kind) for kind in ("input", "output")}
    if names["input"] != sorted(INPUT_NAMES) or names["output"] != sorted(OUTPUT_NAMES):
        problems = [f"inputs {names['input']} and outputs {names['output']}, not {list(INPUT_NAMES)} and "
                    f"{list(OUTPUT_NAMES)}"]
    else:
        sizes = {"template": meta.template_size, "search": meta.search_size}
        problems = [f"input '{n}' is {io_shapes[n]['dtype']} {io_shapes[n]['shape']}, its metadata gives float32 "
                    f"[N, 3, {size}, {size}]" for n, size in sizes.items()
                    if io_shapes[n]["dtype"] != "float32" or list(io_shapes[n]["shape"][1:]) != [3, size, size]]
        problems += [p for p in (map_type_problem(n, io_shapes[n]["dtype"]) for n in OUTPUT_NAMES) if p]
    if problems:
        raise ExportError(f"{onnx_path.name} is not a tracker graph that droptrack runs ({'; '.join(problems)}); "
                          "export the tracker with `dt export CHECKPOINT`")


@dataclass
class GraphFacts:
    """What an engine build reads of its ONNX graph, from one parse of it (a large graph's parse costs hundreds of MB
    and seconds; the parsed graph itself is dropped before TensorRT parses the file for the build)."""

    meta: ArtifactMeta
    io_shapes: dict[str, dict[str, Any]]
    parser_problems: list[str] = field(default_factory=list)   # export.trt_ops: what TensorRT's parser would refuse


def check_parser_ops(onnx_path: Path, problems: list[str]) -> None:
    """Refuse, before the builder runs, a graph with a node TensorRT 10's ONNX parser refuses (export.trt_ops): the
    parse would fail after TensorRT's start-up, on a GPU machine."""
    if problems:
        from droptrack.export.trt_ops import DOC

        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ExportError(f"{onnx_path.name} is not a graph TensorRT 10's ONNX parser takes ({DOC}): {problems[0]}"
                          f"{more}; build engines from the graphs `dt export CHECKPOINT` writes for TensorRT "
                          "(model.onnx, model_fp16.onnx, model_int8_trt.onnx)")


def check_tracker_graph(onnx_path: Path, facts: GraphFacts) -> None:
    """A graph TensorRT can build for droptrack (fixed sizes, the tracker's I/O, ops its parser takes), or a one-line
    ExportError."""
    check_fixed_sizes(onnx_path, facts.io_shapes)
    check_tracker_io(onnx_path, facts.io_shapes, facts.meta)
    check_parser_ops(onnx_path, facts.parser_problems)


def graph_facts(onnx_path: Path, graph: Any = None) -> GraphFacts:
    """The GraphFacts of an exported graph: of `graph` (the file's onnx.ModelProto, already parsed) or parsed now."""
    from droptrack.export.onnx import graph_metadata, read_graph
    from droptrack.export.trt_ops import trt_problems

    graph = read_graph(onnx_path) if graph is None else graph
    return GraphFacts(graph_metadata(graph, onnx_path), onnx_io_shapes(graph, onnx_path), trt_problems(graph))


def check_engine_options(workspace_gb: float, typing: str) -> None:
    """--workspace and --trt-typing in range before any work (they were first read after the ONNX exports)."""
    from droptrack.engine.trt_compat import TYPINGS

    if not (math.isfinite(workspace_gb) and workspace_gb > 0):
        raise InputError(f"--workspace {workspace_gb:g} must be a TensorRT workspace limit in GB > 0, e.g. "
                         f"--workspace {DEFAULT_WORKSPACE_GB:g}")
    if workspace_gb * (1 << 30) >= 1 << 63:   # TensorRT's pool limit is a 64-bit size: a larger one was a TypeError
        raise InputError(f"--workspace {workspace_gb:g} GB is more than TensorRT can take (a 64-bit byte count); pass "
                         f"at most the GPU's memory, e.g. --workspace {DEFAULT_WORKSPACE_GB:g}")
    if typing not in TYPINGS:
        raise InputError(f"--trt-typing {typing} is unknown; choose {' or '.join(TYPINGS)}")
    if typing == "flags":   # TensorRT 11 removed the FP16/INT8 builder flags: refused before the exports, not after
        from droptrack.engine import trt_compat

        trt = trt_compat.import_tensorrt()
        if trt is not None and trt_compat.major(trt) >= 11:
            raise InputError(f"--trt-typing flags needs TensorRT 10 (this is TensorRT {trt.__version__}, which has no "
                             "FP16/INT8 builder flags); drop it to build the strongly typed way")


def check_engine_machine(graph: bool) -> None:
    """`--engine` where no engine can be built (no TensorRT or an unsupported one, no CUDA GPU, or CUDA that TensorRT
    cannot start): one InputError line before any work, not a skipped or FAILED row after the exports. `graph`: the
    command builds from an exported .onnx (no --engine to drop)."""
    from droptrack.engine import trt_compat

    fix = ("run it on the machine that will run the engine, with TensorRT 10 or 11 and a CUDA GPU" if graph else
           "run it on a machine with TensorRT 10 or 11 and a CUDA GPU, or drop --engine (the ONNX graphs need neither)")
    reason = trt_compat.unavailable_reason()
    if reason:
        raise InputError(f"--engine: no engine can be built on this machine: {reason}; {fix}")
    trt = trt_compat.import_tensorrt()   # CUDA starts here as in the build: a driver TensorRT cannot use fails now
    trt_compat.created(trt.Builder, trt_compat.logger(trt), what="builder", error=InputError)


def rebuild_command(onnx_path: Path, workspace_gb: float, typing: str) -> str:
    """The exact `dt` command that rebuilds this engine on the current machine."""
    from droptrack.engine.tensorrt_backend import rebuild_line

    return rebuild_line(onnx_path, workspace_gb, typing)


@dataclass
class EngineResult:
    """One engine: paths, whether it was reused from the cache, build time and notes."""

    path: Path
    sidecar: Path
    precision: str
    reused: bool
    seconds: float
    key: str
    notes: list[str] = field(default_factory=list)


def build_engine(onnx_path: str | Path, engine_path: str | Path | None = None,
                 workspace_gb: float = DEFAULT_WORKSPACE_GB, typing: str = "strong", force: bool = False,
                 cache: str | Path | None = None, log: Callable[[str], None] | None = None,
                 facts: GraphFacts | None = None) -> EngineResult:
    """Build (or reuse) a TensorRT engine for `onnx_path`; the precision is the graph's (its metadata). `facts`: the
    graph's GraphFacts where the caller has parsed it (not parsed again)."""
    from droptrack.engine import trt_compat
    from droptrack.engine.graph_stamp import hashed_with_stamp
    from droptrack.engine.tensorrt_backend import sidecar_path

    log = log or (lambda s: None)
    onnx_path = Path(onnx_path)
    facts = graph_facts(onnx_path) if facts is None else facts
    meta, io_shapes = facts.meta, facts.io_shapes
    check_tracker_graph(onnx_path, facts)   # the graph first: refused on any machine, with or without TensorRT
    reason = trt_compat.unavailable_reason()
    if reason:
        raise TensorRTUnavailable(f"{reason}: TensorRT engines not built; the ONNX graphs are ready")
    engine_path = Path(engine_path) if engine_path else onnx_path.with_suffix(".engine")
    env = trt_compat.runtime_env()
    onnx_sha, onnx_stamp = hashed_with_stamp(onnx_path)   # a load trusts the stamp, hashes only a changed graph
    workspace_bytes = int(workspace_gb * (1 << 30))
    key = engine_cache_key(onnx_sha, meta.precision, env, io_shapes, meta.to_dict(), workspace_bytes, typing)
    side = sidecar_path(engine_path)
    cdir = cache_dir(cache)
    t0 = time.perf_counter()
    if not force and engine_path.is_file() and side.is_file() and _read_key(side) == key:
        log(f"  reusing {engine_path.name} (same ONNX, precision, GPU and TensorRT)")
        return EngineResult(engine_path, side, meta.precision, True, time.perf_counter() - t0, key)
    cached = cdir / f"{key}.engine"
    notes: list[str] = []
    # killed before the new sidecar: an unfinished one (refused, rebuilt), never the old plan's; it names the graph,
    # so that the rerun knows the engine for droptrack's own (not another tool's file, which needs --overwrite)
    unfinished = {"format": SIDECAR_FORMAT, "onnx": onnx_path.name, "unfinished": True}
    atomic_write_bytes(side, json.dumps(unfinished).encode())
    if not force and os.path.isfile(cached):
        atomic_write(engine_path, lambda p: shutil.copyfile(cached, p))
        reused = True
        log(f"  reusing cached engine {cached}")
        with contextlib.suppress(OSError):   # its use, for the least-recently-used pruning
            os.utime(cached)
    else:
        log(f"  building {engine_path.name} with TensorRT {env['tensorrt']} on {env['gpu']} "
            f"({meta.precision}, {typing} typing, workspace {workspace_gb:g} GB); this can take minutes")
        plan, notes = _build_plan(onnx_path, meta.precision, typing, workspace_bytes, cdir, env, log)
        atomic_write_bytes(engine_path, plan)
        reused = False
        try:
            atomic_write_bytes(cached, plan)
        except (OSError, OutputFull) as exc:   # the cache only saves a rebuild: its disk full fails nothing
            notes.append(f"engine cache folder {cdir} is {'full' if isinstance(exc, OutputFull) else 'not writable'}"
                         ": the engine is not cached")
        pruned = prune_cache(cdir, cached)
        for line in pruned:
            if line.startswith("warning:"):
                log(f"  {line}")
        notes += pruned
    seconds = time.perf_counter() - t0
    atomic_write_json(side, {
        "format": SIDECAR_FORMAT, "cache_key": key, "env": env, "precision": meta.precision, "typing": typing,
        "recipe": BUILD_RECIPE, "onnx": onnx_path.name, "onnx_sha256": onnx_sha, "onnx_stamp": onnx_stamp,
        "io": io_shapes, "workspace_bytes": workspace_bytes, "meta": meta.to_dict(), "build_seconds": round(seconds, 2),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "notes": notes,
        "rebuild_command": rebuild_command(onnx_path, workspace_gb, typing),
        "plan_bytes": engine_path.stat().st_size})   # a copy cut short is named as such, not as another version
    return EngineResult(engine_path, side, meta.precision, reused, seconds, key, notes)


def prune_cache(cdir: Path, keep: Path, limit: int = CACHE_LIMIT_BYTES) -> list[str]:
    """Remove the least recently used cached engines (`KEY.engine`, by mtime: written or reused) until the cache holds
    at most `limit` bytes, never `keep` (the one just written): every rebuild (a new graph, driver or TensorRT) added
    one of up to hundreds of MB, without end. Returns the build note ([] when nothing was removed)."""
    entries = []
    for path in cdir.glob("*.engine"):
        with contextlib.suppress(OSError):   # another export's pruning may have removed it
            st = path.lstat()   # a link counts as what removing it frees: the link, never its target
            used = st.st_mtime_ns
            if stat.S_ISLNK(st.st_mode):
                with contextlib.suppress(OSError):   # a reuse's os.utime touched the target: its last use
                    used = path.stat().st_mtime_ns
            entries.append((used, st.st_size, path))
    total, removed, failed = sum(size for _, size, _ in entries), 0, []
    for _, size, path in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        if path == keep:
            continue
        try:
            path.unlink()
        except OSError as exc:   # not removed: frees nothing, the next-oldest goes instead
            failed.append(f"{path.name} ({exc.strerror or exc.__class__.__name__})")
            continue
        removed += 1
        total -= size
    notes = [f"engine cache {cdir}: {removed} least recently used engine(s) removed to stay under "
             f"{limit / (1 << 30):g} GB"] if removed else []
    if failed:
        others = f" and {len(failed) - 1} other(s)" if len(failed) > 1 else ""
        notes.append(f"warning: engine cache {cdir}: could not remove {failed[0]}{others}; the cache may stay over "
                     f"{limit / (1 << 30):g} GB: remove them by hand")
    return notes


def _read_key(side: Path) -> str:
    """The cache key of an existing sidecar; '' (rebuild) for one that is not a droptrack sidecar."""
    from droptrack.engine.tensorrt_backend import sidecar_fields

    return str(sidecar_fields(side).get("cache_key", ""))


# what TensorRT logs when memory ran short during a build (TensorRT 8.6-10.x wording)
_GPU_MEMORY = re.compile(r"out of memory|outofmemory|could not be allocated|failed to allocate|allocator error|"
                         r"decreasing the workspace", re.I)
_WORKSPACE = re.compile(r"insufficient workspace|insufficient memory|memory is insufficient", re.I)


def build_failure(onnx_name: str, messages: list[tuple[int, str]], workspace_gb: float) -> str:
    """One line for a build that gave no plan, from what TensorRT logged during it ((severity, message), `trt_log`):
    its first error, and a --workspace hint only when the log says memory ran short (GPU memory gone: a smaller
    workspace or a freer GPU; tactics without enough workspace: a larger one). Most failures are something else
    (an unsupported layer, a bad graph), where a larger workspace changes nothing."""
    from droptrack.engine.trt_log import ERROR

    errors = [" ".join(m.split()) for level, m in messages if level <= ERROR]
    texts = [m for _, m in messages]
    if errors:
        what = f"TensorRT reported {len(errors)} error(s), the first: {errors[0][:240]}"
    else:
        what = "TensorRT logged no error (its warnings, if any, are above)"
    line = f"TensorRT failed to build an engine from {onnx_name}: {what}"
    if any(_GPU_MEMORY.search(t) for t in texts):
        return (f"{line}; the GPU ran out of memory: free GPU memory (nvidia-smi lists what holds it) or try a "
                f"smaller --workspace (now {workspace_gb:g} GB)")
    if any(_WORKSPACE.search(t) for t in texts):
        return f"{line}; its tactics lacked memory: try a larger --workspace (now {workspace_gb:g} GB)"
    return f"{line} (the whole TensorRT log, [TRT] lines, is above)"


def _build_plan(onnx_path: Path, precision: str, typing: str, workspace_bytes: int, cdir: Path,
                env: dict[str, str], log: Callable[[str], None]) -> tuple[bytes, list[str]]:
    """Parse the ONNX graph and build a serialized plan (timing cache loaded and saved)."""
    from droptrack.engine import trt_compat

    trt = trt_compat.import_tensorrt()
    logger = trt_compat.logger(trt)
    builder = trt_compat.created(trt.Builder, logger, what="builder", error=ExportError)
    network = trt_compat.create_network(builder, trt, strongly_typed=typing == "strong")
    parser = trt_compat.created(trt.OnnxParser, network, logger, what="ONNX parser", error=ExportError)
    with trt_compat.sigint_deferred():   # the parser logs every node: a Ctrl-C raised in a log call would be dropped
        parsed = parser.parse_from_file(str(onnx_path))
    if not parsed:
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT could not parse {onnx_path.name}: {errors[:300]}")
    config = builder.create_builder_config()
    trt_compat.set_workspace(config, trt, workspace_bytes)
    trt_compat.set_detailed_profiling(config, trt)
    notes = trt_compat.apply_precision(config, network, trt, precision, typing) + trt_compat.disable_tf32(config, trt)
    tc_path = cdir / f"timing-{timing_cache_key(env)}.cache"
    timing = trt_compat.attach_timing_cache(config, tc_path.read_bytes() if os.path.isfile(tc_path) else None)
    if timing == "reused":
        notes.append(f"timing cache reused: {tc_path}")
    elif timing == "refused":
        notes.append(f"timing cache {tc_path} not accepted by TensorRT (see its log); a new one replaces it")
    monitor = trt_compat.attach_progress(config, trt, log)
    mark = logger.mark()
    with trt_compat.interruptible_build(monitor):   # Ctrl-C: KeyboardInterrupt, not a failed or finished build
        plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ExportError(build_failure(onnx_path.name, logger.since(mark), workspace_bytes / (1 << 30)))
    try:
        if timing != "none":
            atomic_write_bytes(tc_path, trt_compat.serialize_timing_cache(config))
    except (OSError, OutputFull) as exc:
        notes.append(f"timing cache not saved ({cdir} {'full' if isinstance(exc, OutputFull) else 'not writable'})")
    return bytes(memoryview(plan)), notes
