"""TensorRT backend: a `dt export --engine` plan run with set_tensor_address + execute_async_v3.

Device buffers are torch CUDA tensors (no pycuda). Inputs may be torch CUDA float32 tensors (used in place:
zero copy) or numpy arrays (uploaded); outputs are torch CUDA tensors for torch inputs, numpy for numpy inputs.
Everything (compatibility check, deserialisation, buffers, stream) lives on the GPU given by `device`
(`--device cuda:N`). An engine built for another GPU or TensorRT version is refused before deserialisation,
with what differs and the command that rebuilds it here. With torch inputs the call returns before the GPU is
done, so its latency is measured with CUDA events (`base.DeviceTiming`), not as enqueue time.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np

from droptrack.artifact import REEXPORT, ArtifactMeta
from droptrack.engine.base import INPUT_NAMES, OUTPUT_NAMES, Backend, DeviceTiming
from droptrack.errors import BackendError, MetadataError, shell_quote
from droptrack.paths import check_readable

ALIGNMENT = 256   # bytes: TensorRT's set_tensor_address refuses less aligned device addresses

# fields of the sidecar env that must match for a plan to load (CUDA/driver differences are reported only)
MUST_MATCH = ("tensorrt", "gpu", "compute_capability")
MAX_SIDECAR = 1 << 20   # bytes: a sidecar is a few KB of JSON
# The version of how `dt export --engine` builds a plan (network flags, TF32 off, the FP32 pins and precision flags of
# trt_compat.apply_precision, detailed profiling), recorded in its sidecar: an engine of an older recipe (or of none:
# built before the sidecar recorded it) is refused where it is loaded. Bump it with any change to those settings.
BUILD_RECIPE = 1
SHOWN = ("precision", "rebuild_command", *(f"env.{k}" for k in (*MUST_MATCH, "cuda", "driver")))   # in messages


def compat_problems(built: dict[str, str], here: dict[str, str]) -> list[str]:
    """What differs between the machine an engine was built on and this one (empty = compatible)."""
    labels = {"tensorrt": "TensorRT", "gpu": "GPU", "compute_capability": "compute capability"}
    return [f"{labels[k]} {built.get(k, '?') or '?'} (engine) vs {here.get(k, '') or 'none'} (here)"
            for k in MUST_MATCH if str(built.get(k, "")) != str(here.get(k, ""))]


def rebuild_line(graph: str | Path, workspace_gb: float, typing: str) -> str:
    """`dt export GRAPH --engine --workspace N [--trt-typing flags]`: the command that builds an engine again."""
    cmd = f"dt export {shell_quote(graph)} --engine --workspace {workspace_gb:g}"
    return cmd + (" --trt-typing flags" if typing == "flags" else "")


def rebuild_for(engine: str | Path, info: dict) -> str:
    """The command that rebuilds `engine` where it is: its graph beside it (the sidecar's `onnx`; `dt export` writes an
    engine beside its graph), named through the engine's path as given here, with the build's --workspace and
    --trt-typing. The sidecar's `rebuild_command` names the graph as the build's command line did (relative to that
    shell's folder, or on the machine that built it: where an engine is refused, it is mostly elsewhere); it is the
    answer where the graph is not beside the engine (an engine moved alone) or the sidecar lacks those fields."""
    engine = Path(engine)
    name, size, typing = info.get("onnx"), info.get("workspace_bytes"), info.get("typing", "strong")
    recorded = info.get("rebuild_command")
    recorded = recorded if isinstance(recorded, str) and recorded.isprintable() and len(recorded) < 4400 else None
    if (isinstance(name, str) and Path(name).name == name and name not in ("", "..") and type(size) is int
            and size > 0 and typing in ("strong", "flags")) and ((engine.parent / name).is_file() or not recorded):
        return rebuild_line(engine.parent / name, size / (1 << 30), typing)
    return recorded or f"dt export {shell_quote(engine.with_suffix('.onnx'))} --engine"


def rebuild_on(index: int, rebuild: str) -> str:
    """`rebuild` (a `dt export ... --engine` command) as it builds for GPU `index`: `dt export` builds on the first GPU
    CUDA shows it (TensorRT's current device), so for cuda:N (N > 0) it runs with only that GPU visible
    (CUDA_VISIBLE_DEVICES, the physical index when the variable already narrowed the GPUs this process sees)."""
    if index == 0:
        return rebuild
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    gpu = visible[index] if "CUDA_VISIBLE_DEVICES" in os.environ and index < len(visible) else str(index)
    return f"CUDA_VISIBLE_DEVICES={shell_quote(gpu)} {rebuild}"


def cuda_index(device: int | str | None) -> int:
    """GPU index of 'cuda', 'cuda:N', N or None (0); anything else -> one-line BackendError."""
    if device is None or device == "cuda":
        return 0
    if isinstance(device, int):
        return device
    head, _, idx = str(device).partition(":")
    if head != "cuda" or not (idx.isascii() and idx.isdigit()):   # '²' is a digit to isdigit, not to int()
        raise BackendError(f"device '{device}' is not a CUDA device; TensorRT engines run on --device cuda[:N]")
    return int(idx)


MAP_CHANNELS = {"score_map": 1, "size_map": 2, "offset_map": 2}   # the head's maps: (N, channels, feat, feat)
MAP_TYPES = ("float32", "float16", "bfloat16")   # what the maps may be (read as float32: `Tensor.float()`)


def map_type_problem(name: str, dtype: str) -> str:
    """Why output map `name` of element type `dtype` (numpy's name: 'float32', 'int32') cannot be read ('' when it
    can): the loader's rule (`io_problems`), which `dt export --engine` applies to the graph before its build."""
    if dtype in MAP_TYPES:
        return ""
    return f"output '{name}' is {dtype}, not {', '.join(MAP_TYPES[:-1])} or {MAP_TYPES[-1]}"


def io_problems(tensors: dict, expected: dict[str, tuple[int, ...]], feat: int | None = None) -> list[str]:
    """What the backend cannot bind in an engine's I/O tensors (`trt_compat.TensorInfo` by name): it binds only
    the tracker's tensors, float32 inputs of the artifact's crop sizes and fixed-size outputs, all of `template`'s
    batch, row-major in GPU memory, so an extra tensor, a dynamic (-1) dimension, another batch, input type or size,
    a vectorized layout or host location would make TensorRT read or write the wrong bytes (or refuse to run), and
    an output map that is not floating point (INT8 from a final Q node, INT32, BOOL; FP8 or INT4, which torch cannot
    convert) would give wrong maps or fail on the first frame; `feat`: the maps' side, which the outputs must have
    (an engine from elsewhere may declare huge ones, allocated at load)."""
    out = []
    batch = tensors["template"].shape[0] if "template" in tensors else None
    for name, t in tensors.items():
        if name not in INPUT_NAMES + OUTPUT_NAMES:
            out.append(f"extra {'input' if t.is_input else 'output'} '{name}' that the tracker does not bind")
            continue
        if any(int(d) < 0 for d in t.shape):
            out.append(f"'{name}' has a dynamic shape {tuple(t.shape)}")
        elif batch is not None and batch >= 0 and (not t.shape or t.shape[0] != batch):
            out.append(f"'{name}' is {tuple(t.shape)}, not batch {batch} as 'template'")
        elif name in expected and tuple(t.shape[1:]) != tuple(expected[name][1:]):
            out.append(f"'{name}' is {tuple(t.shape)}, the artifact's sizes give {expected[name]}")
        elif feat is not None and name in MAP_CHANNELS and tuple(t.shape[1:]) != (MAP_CHANNELS[name], feat, feat):
            out.append(f"output '{name}' is {tuple(t.shape)}, the artifact's sizes give "
                       f"(N, {MAP_CHANNELS[name]}, {feat}, {feat})")   # checked before its buffer is allocated
        if t.layout != "LINEAR":   # e.g. HWC8: channels padded to 8, more bytes than the torch buffer holds
            out.append(f"'{name}' has TensorRT's {t.layout} layout, not LINEAR (row-major, as torch tensors)")
        if t.location != "DEVICE":
            out.append(f"'{name}' is in host memory, not on the GPU")
        if name in expected and t.dtype != "float32":
            out.append(f"input '{name}' is {t.dtype}, not float32")
        elif name not in expected and map_type_problem(name, t.dtype):
            out.append(map_type_problem(name, t.dtype))
    return out


def sidecar_path(engine_path: str | Path) -> Path:
    """`model.engine` -> `model.engine.json`."""
    p = Path(engine_path)
    return p.with_name(p.name + ".json")


def sidecar_fields(side: Path) -> dict:
    """An existing sidecar's JSON object for a lookup (cache key, checkpoint sha256): {} when it is missing, not a
    regular file, over MAX_SIDECAR, not JSON or not an object (not a droptrack sidecar: nothing to look up)."""
    try:
        st = side.stat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SIDECAR:   # a pipe would block, a huge file fill memory
            return {}
        info = json.loads(side.read_text())
    except (OSError, ValueError, RecursionError):   # RecursionError: JSON nested too deeply
        return {}
    return info if isinstance(info, dict) else {}


def _sidecar_fix(path: Path, with_reason: bool = False) -> str:
    """The rebuild advice for an engine whose sidecar is missing or damaged, made only when it is refused: where
    TensorRT cannot run here, where the command works and what runs here instead (`with_reason`: and why; the
    messages that name the sidecar's path have no room for it)."""
    from droptrack.engine import trt_compat

    graph = Path(path).with_suffix(".onnx")
    rebuild = (f"rebuild the engine with `dt export {shell_quote(graph)} --engine`" if graph.is_file() else
               "rebuild the engine with `dt export GRAPH.onnx --engine` from the graph it was built from")
    reason = trt_compat.unavailable_reason()   # that command is refused here: say where it works, and what runs here
    if not reason:
        return rebuild
    here = f"; here, give {shell_quote(graph) if graph.is_file() else 'that graph'} in its place"
    return rebuild + " where TensorRT and a CUDA GPU are" + (f" ({reason})" if with_reason else "") + here


def read_sidecar(path: Path) -> dict:
    """The engine's sidecar JSON (`model.engine.json`), checked to describe an engine (meta and env objects)."""
    side = sidecar_path(path)
    if side.is_dir():   # a folder in its place was 'no sidecar (not built by dt export)': rebuilding would fail
        raise BackendError(f"engine '{path}' has a folder where its sidecar {side.name} goes; move it away")
    if not side.is_file():
        raise BackendError(f"engine '{path}' has no sidecar {side.name} (not built by `dt export --engine`); "
                           f"{_sidecar_fix(path, with_reason=True)}")
    check_readable("sidecar", side, BackendError)   # the file is fine, this user may not read it
    try:
        if side.stat().st_size > MAX_SIDECAR:   # read whole, it would take that much memory first
            raise BackendError(f"sidecar {side} is {side.stat().st_size / 2**20:.0f} MiB, not an engine description "
                               f"(a few KB); {_sidecar_fix(path)}")
        info = json.loads(side.read_text())
    except (OSError, ValueError, RecursionError):   # RecursionError: JSON nested too deeply
        raise BackendError(f"sidecar {side} is unreadable; {_sidecar_fix(path)}") from None
    if isinstance(info, dict) and info.get("unfinished") is True:   # written before the plan, replaced after it
        raise BackendError(f"engine '{path}' has no sidecar {side.name} yet: its build did not finish; "
                           f"{_sidecar_fix(path)}")
    kind = type(info).__name__
    if not isinstance(info, dict) or not isinstance(info.get("meta"), dict) or not isinstance(info.get("env"), dict):
        missing = "meta" if isinstance(info, dict) and not isinstance(info.get("meta"), dict) else "env"
        what = f"a JSON {kind}" if not isinstance(info, dict) else f"an object without '{missing}'"
        raise BackendError(f"sidecar {side} is {what}, not an engine description (needs 'meta' and 'env' "
                           f"objects); {_sidecar_fix(path)}")
    try:
        ArtifactMeta.from_dict(info["meta"])
    except MetadataError as exc:
        raise BackendError(f"sidecar {side} {exc}".replace(REEXPORT, _sidecar_fix(path))) from None
    for name in SHOWN:   # printed in dt run's and dt doctor's lines: no control characters, no screenfuls
        part, _, key = name.rpartition(".")
        value = (info[part] if part else info).get(key, "")
        longest = 300 + (4096 if key == "rebuild_command" else 0)   # the command names the .onnx path (PATH_MAX)
        if not isinstance(value, str) or len(value) > longest or not value.isprintable():
            raise BackendError(f"sidecar {side} has '{name}' = {repr(value)[:60]}, not a short line of text; "
                               f"{_sidecar_fix(path)}")
    return info


def stale_graph(engine: str | Path, info: dict) -> str | None:
    """Why the ONNX graph beside an engine (the one its sidecar names, in the engine's folder) is no longer the one it
    was built from (its sha256 at build time differs), e.g. an export interrupted during the engine's check left the
    previous engine beside a new graph; None when it is the same, or absent, or the sidecar records none. Hashed only
    when the graph's file stamp differs from the one recorded with it (droptrack.engine.graph_stamp)."""
    from droptrack.engine.graph_stamp import same_bytes

    name, recorded = info.get("onnx"), info.get("onnx_sha256")
    if not isinstance(name, str) or not isinstance(recorded, str) or not name or Path(name).name != name:
        return None
    graph = Path(engine).parent / name
    try:
        if not graph.is_file() or same_bytes(graph, recorded, info.get("onnx_stamp")):
            return None
    except OSError:
        return None
    return f"'{graph.name}' beside it changed since the engine was built from it"


def recipe_problem(path: Path, info: dict) -> str | None:
    """Why an engine's build is older than this droptrack's BUILD_RECIPE (its sidecar records an older recipe, or
    none: built before the recipe was recorded), or None (the current recipe, or a newer one)."""
    recipe = info.get("recipe")
    if type(recipe) is int and recipe >= BUILD_RECIPE:
        return None
    built = f"recipe {recipe}" if type(recipe) is int else "no recipe (built before droptrack recorded it)"
    return (f"engine '{path.name}' predates the current TensorRT build recipe (its sidecar records {built}, this "
            f"droptrack builds with recipe {BUILD_RECIPE}), so it may carry older builder settings")


def not_rebuilt_here(path: Path, info: dict, rebuild: str, unavailable: str) -> str:
    """What to do with an engine that must be rebuilt (an older build recipe) on a machine where TensorRT cannot run
    (`unavailable`: why, as `trt_compat.unavailable_reason` says): it can be neither checked nor rebuilt here, so
    rebuild it where TensorRT is, and run the ONNX graph beside it here (named)."""
    return (f"it can be neither checked nor rebuilt on this machine ({unavailable}): rebuild it where TensorRT and a "
            f"CUDA GPU are ({rebuild}); {graph_here(path, info)}")


def graph_here(engine: Path, info: dict) -> str:
    """Where an engine cannot run: the ONNX graph beside it that runs here, named (the one its sidecar says it was
    built from, else the engine's own name as .onnx): an ARTIFACT for every dt command (`dt run --model`,
    `dt bench`), so no option is named."""
    name = info.get("onnx")
    named = isinstance(name, str) and name and Path(name).name == name and (engine.parent / name).is_file()
    graph = engine.parent / name if named else engine.with_suffix(".onnx")
    if not graph.is_file():
        return "here, give the ONNX graph it was built from in its place (MODEL.onnx)"
    return f"here, give the ONNX graph beside it, {graph.name}, which this machine runs, in its place: " \
           f"{shell_quote(graph)}"


def plan_size_problem(path: Path, info: dict) -> str | None:
    """Why the plan at `path` is not the one its sidecar describes (its size differs from the `plan_bytes` its build
    wrote: a copy cut short, a file replaced since), or None (same size, or a sidecar that records none)."""
    size, built = path.stat().st_size, info.get("plan_bytes")
    if type(built) is int and size != built:
        return (f"engine '{path.name}' is {size} bytes, but its build wrote {built} (its sidecar says): cut short or "
                "changed since, e.g. a copy that did not finish")
    return None


def onnx_instead(path: str | Path) -> str:
    """What to run where an engine cannot: the ONNX graph beside it (`dt export` writes both), when it is there."""
    graph = Path(path).with_suffix(".onnx")
    return f"give the ONNX graph beside it in its place ({shell_quote(graph)})" if graph.is_file() else \
        "give the ONNX graph it was built from in its place (MODEL.onnx)"


class TensorRTBackend(Backend):
    """A TensorRT engine with persistent output buffers on one CUDA stream."""

    name = "tensorrt"

    def __init__(self, path: str | Path, device: int | str | None = 0):
        from droptrack.engine import trt_compat

        self.path = Path(path)
        if not self.path.is_file():
            raise BackendError(f"engine '{self.path}' not found; build it with `dt export MODEL.onnx --engine`")
        info = read_sidecar(self.path)
        super().__init__(ArtifactMeta.from_dict(info["meta"]))
        index = cuda_index(device)
        rebuild = rebuild_for(self.path, info)
        reason = trt_compat.unavailable_reason()   # where it is '', the rebuild command runs here
        advice = not_rebuilt_here(self.path, info, rebuild, reason) if reason else f"rebuild it: {rebuild}"
        cut = plan_size_problem(self.path, info)
        if cut:   # TensorRT would only say it cannot deserialize it
            raise BackendError(f"{cut}; copy it again" + (f"; {advice}" if reason else f", or {advice}"))
        old = recipe_problem(self.path, info)
        if old:   # not trusted silently: its precision pins and flags may be the ones a later recipe fixed
            raise BackendError(f"{old}; {advice}")
        stale = stale_graph(self.path, info)
        if stale:   # a stale engine would track with other weights than the graph's
            raise BackendError(f"engine '{self.path.name}' is stale: {stale}; {advice}")
        if reason:
            raise BackendError(f"cannot run '{self.path.name}': {reason}; {onnx_instead(self.path)}")
        import torch

        if index > 0 and index >= torch.cuda.device_count():  # cuda:0 exists when unavailable_reason() is ""
            raise BackendError(f"--device cuda:{index} does not exist here ({torch.cuda.device_count()} CUDA "
                               f"device(s)); pass --device cuda:0")
        problems = compat_problems(info.get("env", {}), trt_compat.runtime_env(index, with_driver=False))
        if problems:
            raise BackendError(f"engine '{self.path.name}' was built for another setup than GPU index {index} "
                               f"(cuda:{index}) ({'; '.join(problems)}); rebuild it on this machine: "
                               f"{rebuild_on(index, rebuild)}")
        self._torch = torch
        self._dev = torch.device("cuda", index)
        trt = trt_compat.import_tensorrt()
        self._logger = trt_compat.logger(trt)
        with torch.cuda.device(self._dev):
            self._runtime, self.engine = trt_compat.deserialize(trt, self.path.read_bytes(), self._logger)
            self.context = trt_compat.execution_context(self.engine)
        self.tensors = {t.name: t for t in trt_compat.io_tensors(self.engine, trt)}
        missing = [n for n in INPUT_NAMES + OUTPUT_NAMES if n not in self.tensors]
        if missing:
            raise BackendError(f"engine '{self.path.name}' lacks tensors {missing}; rebuild it: {rebuild}")
        problems = io_problems(self.tensors, self.input_shapes(1), self.meta.feat_size)
        if problems:
            raise BackendError(f"engine '{self.path.name}' has I/O this backend cannot bind ({'; '.join(problems)}); "
                               f"rebuild it from the exported graph: {rebuild}")
        self._batch = self.tensors["template"].shape[0]
        self._outputs = {n: torch.empty(self.tensors[n].shape, dtype=getattr(torch, self.tensors[n].dtype),
                                        device=self._dev) for n in OUTPUT_NAMES}
        self.stream = torch.cuda.Stream(device=self._dev)
        self._enqueue = trt_compat.enqueue

    @property
    def device(self) -> str:
        """The GPU the engine runs on ('cuda:N')."""
        return str(self._dev)

    def _to_device(self, arr):
        torch = self._torch
        if isinstance(arr, torch.Tensor):
            t = arr if arr.device == self._dev else arr.to(self._dev, non_blocking=True)
            return t.contiguous()
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).to(self._dev, non_blocking=True)

    def _run_one(self, z, x) -> dict:
        torch = self._torch
        z, x = (t if t.data_ptr() % ALIGNMENT == 0 else t.clone() for t in (z, x))  # batch slices, odd views
        bindings = {"template": z.data_ptr(), "search": x.data_ptr()}
        bindings.update({n: b.data_ptr() for n, b in self._outputs.items()})
        current = torch.cuda.current_stream(self._dev)
        self.stream.wait_stream(current)
        self._enqueue(self.context, bindings, self.stream.cuda_stream)
        current.wait_stream(self.stream)
        return {n: b.float().clone() for n, b in self._outputs.items()}

    def _infer(self, template, search) -> dict:
        torch = self._torch
        as_numpy = not isinstance(template, torch.Tensor)
        with torch.cuda.device(self._dev):
            current = torch.cuda.current_stream(self._dev)
            start = None
            if not as_numpy:  # returns before the GPU is done: time on the device, resolved when read
                start = torch.cuda.Event(enable_timing=True)
                start.record(current)
            z, x = self._to_device(template), self._to_device(search)
            step = self._batch
            if z.shape[0] % step:
                raise BackendError(f"{z.shape[0]} targets do not fill this engine's batch of {step}; "
                                   "rebuild it with `dt export MODEL.onnx --engine` (batch 1)")
            parts = [self._run_one(z[i:i + step], x[i:i + step]) for i in range(0, z.shape[0], step)]
            out = {k: torch.cat([p[k] for p in parts]) if len(parts) > 1 else parts[0][k] for k in OUTPUT_NAMES}
            if as_numpy:
                return {k: v.cpu().numpy() for k, v in out.items()}
            end = torch.cuda.Event(enable_timing=True)
            end.record(current)
            self._device_timing = DeviceTiming(start, end)
        return out

    @property
    def released(self) -> bool:
        """Whether `close` dropped the engine."""
        return getattr(self, "engine", None) is None

    def close(self) -> None:
        """Wait for the inference queued on the engine's stream (a call with torch inputs returns before it has run;
        TensorRT: memory bound to a tensor must not be released before its stream is synchronised), then drop the
        execution context, engine, runtime and output buffers, in that order."""
        if getattr(self, "context", None) is not None and getattr(self, "stream", None) is not None:
            try:
                with self._torch.cuda.device(self._dev):
                    self.stream.synchronize()
            except RuntimeError:   # a CUDA error already reported by the call that met it: nothing more runs
                pass
        self.context = None
        self.engine = None
        self._runtime = None
        self._outputs = {}
