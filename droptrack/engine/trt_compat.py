"""The only module that branches on the TensorRT version (builder flags and runtime tensor API).

TensorRT 10 (JetPack 6.1/6.2 ship 10.3; JetPack 6.0's 8.6 is refused): strongly typed networks (flag) or weak
typing with FP16/INT8 builder flags and layer precision constraints. TensorRT 11: strongly typed only (no
FP16/INT8/OBEY flags), so the precision comes from the ONNX graph (casts, Q/DQ). Both share the name-based I/O API
(`num_io_tensors`, `get_tensor_*`, `set_tensor_address`, `execute_async_v3`). Everything imports lazily.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterator

from droptrack.errors import BackendError, ExportError
from droptrack.signals import deferred

SUPPORTED_MAJORS = (10, 11)
TYPINGS = ("strong", "flags")


def import_tensorrt():
    """The tensorrt module, or None when it cannot be imported (not installed / libraries missing)."""
    try:
        import tensorrt as trt
    except Exception:  # noqa: BLE001 - ImportError, or OSError from missing libnvinfer
        return None
    return trt


_LOGGER: dict = {}


def logger(trt):
    """The process's one TensorRT logger (WARNING and worse, recorded: `trt_log`). TensorRT holds a single logger
    pointer while any builder, runtime or refitter exists (a different logger passed later is ignored, with a
    warning, in favour of the first), and a logger must stay valid until every object created with it is released;
    a logger per builder/runtime could then be freed while another object still logs through it."""
    if _LOGGER.get("module") is not trt:
        from droptrack.engine.trt_log import recording_logger

        _LOGGER.update(module=trt, logger=recording_logger(trt))
    return _LOGGER["logger"]


def major(trt) -> int:
    """Major version of an imported tensorrt module."""
    return int(str(trt.__version__).split(".")[0])


def unavailable_reason() -> str:
    """'' when TensorRT and a CUDA GPU can be used here, else a one-line reason."""
    trt = import_tensorrt()
    if trt is None:
        return ("TensorRT is not installed here (pip install tensorrt-cu12 on x86, JetPack's python3-libnvinfer "
                "on Jetson)")
    if major(trt) not in SUPPORTED_MAJORS:
        return (f"TensorRT {trt.__version__} is not supported; droptrack builds with TensorRT 10 or 11 (on a Jetson: "
                "JetPack 6.1 or 6.2, which ship TensorRT 10.3)")
    try:
        import torch

        if not torch.cuda.is_available():
            return "no CUDA GPU is visible (torch.cuda.is_available() is False)"
    except ImportError:
        return "PyTorch with CUDA is needed for TensorRT device buffers"
    return ""


def driver_version() -> str:
    """NVIDIA driver version ('' when unknown)."""
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        from cuda.bindings import driver

        err, ver = driver.cuDriverGetVersion()
        if int(err) == 0:
            return f"cuda-driver-api {ver // 1000}.{(ver % 1000) // 10}"
    except Exception:  # noqa: BLE001 - cuda-python absent or no driver
        pass
    return ""


def runtime_env(device: int = 0, with_driver: bool = True) -> dict[str, str]:
    """TensorRT / CUDA / driver versions, GPU name and compute capability of this machine (`with_driver=False`
    skips the driver query, an nvidia-smi process, where only the MUST_MATCH fields are compared)."""
    trt = import_tensorrt()
    env = {"tensorrt": str(trt.__version__) if trt is not None else "", "cuda": "", "driver": "", "gpu": "",
           "compute_capability": ""}
    try:
        import torch

        env["cuda"] = str(torch.version.cuda or "")
        if torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(device)
            env["compute_capability"] = "%d.%d" % torch.cuda.get_device_capability(device)
            env["driver"] = driver_version() if with_driver else ""
    except ImportError:
        pass
    return env


def gpu_count() -> int:
    """CUDA GPUs this process sees (CUDA_VISIBLE_DEVICES narrows them; their indices are cuda:0, cuda:1, ...)."""
    try:
        import torch

        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except ImportError:
        return 0


NULLPTR_HINT = "factory function returned nullptr"   # pybind11's TypeError when TensorRT returns no object


def created(factory: Callable[..., Any], *args: Any, what: str, error: type[Exception] = BackendError) -> Any:
    """`factory(*args)` (trt.Builder, trt.Runtime, trt.OnnxParser), or a one-line `error`: TensorRT's binding raises
    TypeError('pybind11::init(): factory function returned nullptr') when TensorRT cannot make the object, most
    often because CUDA failed to initialise for it (its log above names the CUDA error)."""
    try:
        with sigint_deferred():   # CUDA starts up here, logging through the Python logger
            return factory(*args)
    except TypeError as exc:
        if NULLPTR_HINT not in str(exc):
            raise
    raise error(f"TensorRT could not create its {what} (the TensorRT log above has the reason, usually a CUDA error: "
                "a driver older than the CUDA this TensorRT was built for, or a GPU without free memory); check "
                "`nvidia-smi` and that the tensorrt wheel's CUDA (tensorrt-cu12 / -cu13) fits the driver")


def create_network(builder, trt, strongly_typed: bool = True):
    """An explicit-batch network definition, strongly typed when asked (always on TensorRT 11)."""
    m = major(trt)
    if m >= 11:
        return builder.create_network(0)
    if m == 10:
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strongly_typed else 0
        return builder.create_network(flags)
    raise ExportError(f"TensorRT {trt.__version__} is too old; install TensorRT 10 or 11")


def apply_precision(config, network, trt, precision: str, typing: str) -> list[str]:
    """Builder settings for `precision`; returns notes. 'strong' = precision from the graph (10 and 11)."""
    if typing not in TYPINGS:
        raise ExportError(f"unknown TensorRT typing '{typing}'; choose 'strong' or 'flags'")
    if typing == "strong":
        return ["strongly typed: precision from the ONNX graph"]
    if major(trt) >= 11:
        raise ExportError("TensorRT 11 has no FP16/INT8 builder flags; build the strongly typed way from "
                          "model_fp16.onnx / model_int8_trt.onnx (drop --trt-typing flags)")
    notes = []
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
        notes.append("BuilderFlag.FP16")
    if precision == "int8":  # explicit Q/DQ graph: the flag enables INT8 kernels for the Q/DQ regions
        config.set_flag(trt.BuilderFlag.INT8)
        notes.append("BuilderFlag.INT8")
    if precision != "fp32":  # the FP32 islands of export.precision: CE ranking branch and sigmoid heads
        pinned = fp32_layers(network, trt)
        for layer in pinned:
            layer.precision = trt.float32
            for k in range(layer.num_outputs):
                if layer.get_output(k).dtype in _float_types(trt):   # not TopK's INT32 indices
                    layer.set_output_type(k, trt.float32)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        notes.append(f"{len(pinned)} layers pinned to FP32 (CE ranking, sigmoid; OBEY_PRECISION_CONSTRAINTS)")
    return notes


def fp32_layers(network, trt) -> list:
    """Layers kept in FP32 under weak typing: the CE ranking branch (layers that only feed TopK's scores, as
    `export.precision.ce_rank_nodes`) and the score/size sigmoids. LayerNorm (INormalizationLayer) and the
    attention softmax stay free so that TensorRT can fuse attention (see export.precision)."""
    from droptrack.engine.graph_walk import feeding_only

    layers = [network.get_layer(i) for i in range(network.num_layers)]
    nodes = [(layer.name, [layer.get_input(k).name for k in range(layer.num_inputs) if layer.get_input(k)],
              [layer.get_output(k).name for k in range(layer.num_outputs)]) for layer in layers]
    topks = [layer for layer in layers if layer.type == trt.LayerType.TOPK]
    branch = feeding_only(nodes, [t.name for t in topks], [t.get_input(0).name for t in topks],
                          [network.get_output(i).name for i in range(network.num_outputs)])
    sigmoid = {layer.name for layer in layers if layer.type == trt.LayerType.ACTIVATION and "Sigmoid" in layer.name}
    keep = branch | sigmoid | {t.name for t in topks}
    return [layer for layer in layers if layer.name in keep and _pinnable(layer, trt)]


def _float_types(trt) -> tuple:
    return tuple(getattr(trt, n) for n in ("float32", "float16", "bfloat16") if hasattr(trt, n))


def _pinnable(layer, trt) -> bool:
    """A layer whose precision can be set: not a constant, no shape-tensor outputs and at least one floating
    point output (TensorRT keeps TopK's index output INT32 and shape operations' outputs INT32 whatever is asked)."""
    outs = [layer.get_output(k) for k in range(layer.num_outputs)]
    return (layer.type != getattr(trt.LayerType, "CONSTANT", None) and all(o.is_execution_tensor for o in outs)
            and any(o.dtype in _float_types(trt) for o in outs))


def set_detailed_profiling(config, trt) -> None:
    """Keep per-layer details (type, tactic, formats) in the plan for the engine inspector (`engine.inspect`)."""
    if hasattr(trt, "ProfilingVerbosity"):
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED


def disable_tf32(config, trt) -> list[str]:
    """FP32 layers in full FP32: TensorRT enables BuilderFlag.TF32 by default (FLOAT inner products on inputs rounded
    to 10-bit mantissas), which would make `model.engine` no FP32 reference and the FP32 islands of the reduced
    precision graphs (the CE ranking, export.precision) no better than FP16's mantissa. Returns the build note."""
    flag = getattr(trt.BuilderFlag, "TF32", None)
    if flag is None:
        return []
    config.clear_flag(flag)
    return ["TF32 off: FP32 layers compute in full FP32"]


def set_workspace(config, trt, workspace_bytes: int) -> None:
    """Workspace memory pool limit."""
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))


def attach_timing_cache(config, data: bytes | None) -> str:
    """Attach a timing cache made from `data` (a saved one) to the builder config, else an empty one. Returns
    'reused', 'refused' (TensorRT did not take the saved cache: made on another device or damaged; an empty one is
    attached instead), 'new', or 'none' (no cache could be attached; the build goes on without)."""
    if data:
        cache = config.create_timing_cache(data)
        if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
            return "reused"
    cache = config.create_timing_cache(b"")
    if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
        return "none"
    return "refused" if data else "new"


def serialize_timing_cache(config) -> bytes:
    """Bytes of the config's timing cache ('' if none)."""
    cache = config.get_timing_cache()
    return bytes(memoryview(cache.serialize())) if cache is not None else b""


def attach_progress(config, trt, log: Callable[[str], None]) -> Any:
    """Report top-level build phases through `log` (IProgressMonitor, TensorRT >= 10). The monitor's `stopped`,
    once set (`interruptible_build`), makes its step_complete return False, which asks TensorRT to end the build."""
    if not hasattr(trt, "IProgressMonitor"):
        return None

    class Monitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self.stopped = False

        def phase_start(self, phase_name, parent_phase, num_steps):
            if parent_phase is None:
                log(f"  TensorRT: {phase_name} ({num_steps} steps)")

        def step_complete(self, phase_name, step):
            return not self.stopped

        def phase_finish(self, phase_name):
            pass

    monitor = Monitor()
    config.progress_monitor = monitor
    return monitor


def sigint_deferred(on_signal: Callable[[], None] | None = None) -> ContextManager[None]:
    """Ctrl-C while TensorRT works reaches Python's SIGINT handler once the block has ended, not lost: TensorRT calls
    Python back in this thread (the logger, for every message; a progress monitor), Python runs the handler, and its
    KeyboardInterrupt, in the first Python code that runs, such a callback, where the binding prints and drops it.
    Here SIGINT is only noted (and `on_signal` called) until the block ends (`droptrack.signals.deferred`)."""
    return deferred((signal.SIGINT,), on_signal)


@contextmanager
def interruptible_build(monitor: Any) -> Iterator[None]:
    """Ctrl-C during `build_serialized_network` ends the build and raises KeyboardInterrupt once it has returned:
    SIGINT sets the monitor's `stopped` (`sigint_deferred`), so its next step_complete asks TensorRT to stop."""
    def stop() -> None:
        monitor.stopped = True

    with sigint_deferred(stop if monitor is not None else None):
        yield


@dataclass(frozen=True)
class TensorInfo:
    """One engine I/O tensor: `layout` is TensorRT's TensorFormat name (LINEAR: row-major, as a torch tensor; the
    vectorized ones pad channels), `location` its TensorLocation name (DEVICE or HOST)."""

    name: str
    is_input: bool
    shape: tuple[int, ...]
    dtype: str
    layout: str = "LINEAR"
    location: str = "DEVICE"


_DTYPES = {"FLOAT": "float32", "HALF": "float16", "INT32": "int32", "INT64": "int64", "INT8": "int8",
           "UINT8": "uint8", "BOOL": "bool", "BF16": "bfloat16"}


def _enum_name(value) -> str:
    """A TensorRT enum value's member name ('FLOAT'): `.name` of a pybind11 (or Python) enum, else from its text."""
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else str(value).split(".")[-1]


def io_tensors(engine, trt) -> list[TensorInfo]:
    """Name, direction, shape, dtype, layout and memory location of every I/O tensor (name-based API of TensorRT 10
    and 11)."""
    out = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        dt = _enum_name(engine.get_tensor_dtype(name))
        out.append(TensorInfo(name, is_input, tuple(engine.get_tensor_shape(name)), _DTYPES.get(dt, dt.lower()),
                              _enum_name(engine.get_tensor_format(name)),
                              _enum_name(engine.get_tensor_location(name))))
    return out


def deserialize(trt, plan: bytes, logger):
    """Runtime engine from a plan; None -> BackendError. An engine file never runs its own code: the runtime is told
    not to (`engine_host_code_allowed = False`, TensorRT's default, set here so no caller can inherit another), so a
    version-compatible plan's embedded lean runtime or serialized plugin libraries are refused, and no plugin library
    is loaded on an engine's or its sidecar's say."""
    runtime = created(trt.Runtime, logger, what="runtime")
    if hasattr(runtime, "engine_host_code_allowed"):   # TensorRT >= 8.6
        runtime.engine_host_code_allowed = False
    with sigint_deferred():   # its log calls: a Ctrl-C raised in one would be dropped
        engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise BackendError("TensorRT could not deserialize the engine (the TensorRT log above has the reason: built by "
                           "another TensorRT version or for another GPU, a version-compatible engine that carries "
                           "code, which is not run, or too little free GPU memory for its weights); rebuild it with "
                           "`dt export MODEL.onnx --engine`, or free GPU memory (`nvidia-smi`)")
    return runtime, engine


def execution_context(engine):
    """An execution context of `engine` (its activation memory allocated on the current device); TensorRT returns
    None when that fails (the reason is in the TensorRT log) -> BackendError."""
    with sigint_deferred():   # it logs its memory use: a Ctrl-C raised in that log call would be dropped
        context = engine.create_execution_context()
    if context is None:
        raise BackendError("TensorRT could not create an execution context for the engine (see the TensorRT log "
                           "above; often too little free GPU memory for its activations): free GPU memory (other "
                           "processes on it: `nvidia-smi`) or pick another GPU with --device cuda:N")
    return context


def enqueue(context, bindings: dict[str, int], stream_handle: int) -> None:
    """Bind device addresses by name and enqueue one inference on `stream_handle`.

    `set_tensor_address` returns False for an unknown tensor name or an address TensorRT cannot use (not
    256-byte aligned); the enqueue would then read or write the wrong memory, so that is an error.
    """
    for name, ptr in bindings.items():
        if not context.set_tensor_address(name, ptr):
            raise BackendError(f"TensorRT refused the device address of tensor '{name}' (0x{ptr:x}, "
                               f"{ptr % 256} bytes past 256-byte alignment, or a name the engine lacks); "
                               "pass contiguous tensors or rebuild the engine with `dt export MODEL.onnx --engine`")
    with sigint_deferred():   # TensorRT may log during the enqueue: a Ctrl-C raised there would be dropped
        enqueued = context.execute_async_v3(stream_handle)
    if not enqueued:
        raise BackendError("TensorRT could not enqueue the engine (execute_async_v3 failed; the TensorRT log above "
                           "has the reason, e.g. a CUDA error); run again, and if it fails again rebuild the engine "
                           "here with `dt export MODEL.onnx --engine` or give its ONNX graph (MODEL.onnx) in its place")
