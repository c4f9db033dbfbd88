"""A stand-in `tensorrt` module for CPU tests of the engine build: the TensorRT 10 Python names droptrack uses, with
the argument names of TensorRT's bindings (python/src/infer/pyCore.cpp, parsers/pyOnnx.cpp), so a call with a wrong
name or keyword fails here as it would there. Behaviours of the bindings copied on purpose:

* a constructor whose C++ factory returns nullptr (Builder, Runtime, OnnxParser when CUDA cannot be initialised)
  raises TypeError('pybind11::init(): factory function returned nullptr');
* an exception raised in an IProgressMonitor callback is printed and dropped by the binding's trampoline, and one
  raised in step_complete ends the build as if step_complete had returned False (build_serialized_network: None);
* the builder and the ONNX parser log through the logger they were made with, every severity (a Python ILogger
  filters for itself), and the log trampoline drops exceptions as the monitor's does.

`sigint_in` names the callback (a monitor's, or the logger's `log`) before which the process receives SIGINT (as the
first Python code to run after a Ctrl-C that arrived while TensorRT ran in C++); 'WHERE:log' names one log call of
the constructors (Builder, Runtime, OnnxParser: CUDA starts there), of create_execution_context ('context') or of
execute_async_v3 ('execute') or create_engine_inspector ('inspector'), each logging one line as TensorRT does.
"""

from __future__ import annotations

import signal
import sys
from enum import IntEnum
from types import ModuleType, SimpleNamespace

NULLPTR = "pybind11::init(): factory function returned nullptr"


class ILogger:
    """The binding's abstract logger: a subclass calls ILogger.__init__(self) and overrides log(severity, msg)."""

    class Severity(IntEnum):
        INTERNAL_ERROR = 0
        ERROR = 1
        WARNING = 2
        INFO = 3
        VERBOSE = 4

    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = Severity   # export_values(): trt.ILogger.ERROR, ...

    def __init__(self):
        pass

    def log(self, severity, msg):
        raise RuntimeError("pure virtual ILogger.log called")


class Logger(ILogger):
    def __init__(self, min_severity=ILogger.WARNING):
        self.min_severity = min_severity

    def log(self, severity, msg):
        if severity <= self.min_severity:
            print(f"[TRT] [{'FEWIV'[severity]}] {msg}")


class IProgressMonitor:
    def __init__(self):
        pass


class TimingCache:
    def __init__(self, data: bytes):
        self.data = bytes(data)

    def serialize(self) -> bytes:
        return self.data + b"+timed"


class BuilderConfig:
    def __init__(self):
        self.flags, self.pools, self.cache = set(), {}, None
        self.progress_monitor = self.profiling_verbosity = None

    def set_memory_pool_limit(self, pool, pool_size):
        self.pools[pool] = pool_size

    def set_flag(self, flag):
        self.flags.add(flag)

    def clear_flag(self, flag):
        self.flags.discard(flag)

    def create_timing_cache(self, serialized_timing_cache):
        return TimingCache(serialized_timing_cache)

    def set_timing_cache(self, cache, ignore_mismatch):
        self.cache = cache
        return True

    def get_timing_cache(self):
        return self.cache


class EnumValue:
    """A value of a pybind11 enum as the bindings give it: `.name` 'FLOAT', str() 'DataType.FLOAT' (not an IntEnum,
    whose str() is its number on Python 3.11+)."""

    def __init__(self, kind: str, name: str, value: int):
        self.kind, self.name, self.value = kind, name, value

    def __str__(self) -> str:
        return f"{self.kind}.{self.name}"

    def __int__(self) -> int:
        return self.value


def pybind_enum(kind: str, *names: str) -> SimpleNamespace:
    """An enum type of the bindings (trt.DataType, ...): members by name, each a singleton EnumValue."""
    return SimpleNamespace(**{n: EnumValue(kind, n, i) for i, n in enumerate(names)})


DataType = pybind_enum("DataType", "FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8", "FP8", "BF16", "INT64", "INT4")
TensorIOMode = pybind_enum("TensorIOMode", "NONE", "INPUT", "OUTPUT")
TensorFormat = pybind_enum("TensorFormat", "LINEAR", "CHW2", "HWC8", "CHW4", "CHW16", "CHW32")
TensorLocation = pybind_enum("TensorLocation", "DEVICE", "HOST")


def io_spec(name: str, mode: str, shape: tuple[int, ...], dtype: str = "FLOAT", layout: str = "LINEAR",
            location: str = "DEVICE") -> tuple:
    """One I/O tensor of a fake engine (FakeTRT(io=...)): the enum member names the engine's getters return."""
    return (name, mode, tuple(shape), dtype, layout, location)


class Engine:
    """A deserialized engine: its execution context logs its memory use; an enqueue logs one line. Its I/O tensors
    (FakeTRT's `io`, `io_spec` rows) answer the name-based getters of ICudaEngine (num_io_tensors, get_tensor_*)."""

    def __init__(self, fake: "FakeTRT", logger):
        self.fake, self.logger = fake, logger
        self._io = {row[0]: row for row in fake.io}
        self.num_io_tensors = len(fake.io)

    def get_tensor_name(self, index):
        return self.fake.io[index][0]

    def get_tensor_mode(self, name):
        return getattr(TensorIOMode, self._io[name][1]) if name in self._io else TensorIOMode.NONE

    def get_tensor_shape(self, name):
        return self._io[name][2]

    def get_tensor_dtype(self, name):
        return getattr(DataType, self._io[name][3])

    def get_tensor_format(self, name):
        return getattr(TensorFormat, self._io[name][4])

    def get_tensor_location(self, name):
        return getattr(TensorLocation, self._io[name][5])

    def create_execution_context(self):
        self.fake._callback(self.logger, "log", ILogger.Severity.INFO, "[MemUsageChange] TensorRT-managed allocation "
                            "in IExecutionContext creation: CPU +0, GPU +4, now: CPU 0, GPU 8 (MiB)", where="context")
        return Context(self.fake, self.logger)

    def create_engine_inspector(self):
        self.fake._callback(self.logger, "log", ILogger.Severity.VERBOSE, "Engine inspector created", where="inspector")
        return SimpleNamespace(get_engine_information=lambda format: '{"Layers": [], "Bindings": []}')


class Context:
    def __init__(self, fake: "FakeTRT", logger):
        self.fake, self.logger, self.ran = fake, logger, 0

    def set_tensor_address(self, name, memory):
        """As TensorRT: False for a name the engine lacks or an address not 256-byte aligned (NvInferRuntime.h)."""
        names = {row[0] for row in self.fake.io} if self.fake.io else None
        return (names is None or name in names) and int(memory) % 256 == 0

    def execute_async_v3(self, stream_handle):
        self.fake._callback(self.logger, "log", ILogger.Severity.VERBOSE, "Total per-runner device persistent "
                            "memory is 0", where="execute")
        self.ran += 1
        return True


class Network:
    def __init__(self, flags):
        self.flags, self.num_layers, self.num_outputs = flags, 0, 0


class FakeTRT:
    """Settings of one fake module: version, what fails, where SIGINT arrives; `built` records the builds."""

    def __init__(self, version: str = "10.3.0", no_cuda: bool = False, sigint_in: str = "",
                 build_log: tuple[tuple[int, str], ...] = (), fails: bool = False, io: tuple[tuple, ...] = ()):
        self.version, self.no_cuda, self.sigint_in, self.built = version, no_cuda, sigint_in, []
        self.build_log, self.fails = build_log, fails   # what a build logs (severity, message); whether it fails
        self.io = io   # the deserialized engine's I/O tensors (`io_spec` rows)

    def module(self) -> ModuleType:
        """The `tensorrt` module (put it in sys.modules['tensorrt'])."""
        fake = self
        trt = ModuleType("tensorrt")
        trt.__version__ = self.version
        trt.ILogger, trt.Logger, trt.IProgressMonitor = ILogger, Logger, IProgressMonitor
        trt.NetworkDefinitionCreationFlag = SimpleNamespace(EXPLICIT_BATCH=0, STRONGLY_TYPED=1)
        trt.MemoryPoolType = SimpleNamespace(WORKSPACE="WORKSPACE")
        trt.ProfilingVerbosity = SimpleNamespace(DETAILED="DETAILED")
        trt.LayerInformationFormat = SimpleNamespace(JSON="JSON", ONELINE="ONELINE")
        trt.BuilderFlag = SimpleNamespace(FP16="FP16", INT8="INT8", TF32="TF32", OBEY_PRECISION_CONSTRAINTS="OBEY")
        if int(self.version.split(".")[0]) >= 11:   # removed in TensorRT 11 (strong typing only)
            trt.BuilderFlag = SimpleNamespace(TF32="TF32")
        trt.DataType, trt.TensorIOMode, trt.TensorFormat, trt.TensorLocation = (DataType, TensorIOMode, TensorFormat,
                                                                                TensorLocation)

        class Builder:
            def __init__(self, logger):
                fake._init_cuda(logger, "Builder")
                self.logger = logger

            def create_network(self, flags=0):
                return Network(flags)

            def create_builder_config(self):
                return BuilderConfig()

            def build_serialized_network(self, network, config):
                fake.built.append((network.flags, dict(config.pools), set(config.flags)))
                for severity, msg in fake.build_log:
                    fake._callback(self.logger, "log", ILogger.Severity(severity), msg)
                plan = fake.build(config.progress_monitor)
                return None if fake.fails else plan

        class OnnxParser:
            def __init__(self, network, logger):
                fake._callback(logger, "log", ILogger.Severity.INFO, "----------------------------------------------",
                               where="OnnxParser")
                self.num_errors, self.logger = 0, logger

            def parse_from_file(self, model):
                for node in ("/patch_embed/Conv", "/blocks.0/attn/MatMul"):
                    fake._callback(self.logger, "log", ILogger.Severity.VERBOSE, f"Parsing node: {node}")
                return True

        class Runtime:
            def __init__(self, logger):
                fake._init_cuda(logger, "Runtime")
                self.logger = logger

            def deserialize_cuda_engine(self, serialized_engine):
                return Engine(fake, self.logger) if bytes(serialized_engine) == b"PLAN" else None

        trt.Builder, trt.OnnxParser, trt.Runtime = Builder, OnnxParser, Runtime
        return trt

    def _init_cuda(self, logger, where: str) -> None:
        """What a constructor does first: start CUDA, logging it (INFO), or fail as TensorRT's factory then does."""
        self._callback(logger, "log", ILogger.Severity.INFO, "[MemUsageChange] Init CUDA: CPU +2, GPU +0, now: CPU 31, "
                       "GPU 410 (MiB)", where=where)
        if self.no_cuda:
            raise TypeError(NULLPTR)

    def _callback(self, monitor, name: str, *args, failed=None, where: str = ""):
        """One callback (a monitor's, a logger's `log`) as the binding's trampoline makes it: exceptions printed and
        dropped. `where`: the constructor or call whose log this is ('' for the parse and the build)."""
        try:
            if self.sigint_in == (f"{where}:{name}" if where else name):
                self.sigint_in = ""
                signal.raise_signal(signal.SIGINT)   # its Python handler runs here, before the callback's code
            return getattr(monitor, name)(*args)
        except BaseException as exc:   # noqa: BLE001 - pybind11 turns any Python error into error_already_set
            print(f"[ERROR] Exception caught in {name}(): {exc!r}", file=sys.stderr)
            return failed

    def build(self, monitor):
        """Three steps of one top-level phase; a step_complete that is not True ends the build (None)."""
        if monitor is not None:
            self._callback(monitor, "phase_start", "Building engine", None, 3)
            for step in range(3):
                if self._callback(monitor, "step_complete", "Building engine", step, failed=False) is not True:
                    self._callback(monitor, "phase_finish", "Building engine")
                    return None
            self._callback(monitor, "phase_finish", "Building engine")
        return b"PLAN"


GPU_ENV = {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"}


def install(monkeypatch, cache=None) -> FakeTRT:
    """Put the stand-in TensorRT in place, on a machine that reads as a GPU with it (GPU_ENV); engine cache under
    `cache` when given. For the tests' `tensorrt_here` fixtures."""
    from droptrack.engine import trt_compat

    fake = FakeTRT()
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module())
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(GPU_ENV))
    if cache is not None:
        monkeypatch.setenv("DT_CACHE_DIR", str(cache))
    return fake


class GraphAsEngine:
    """Stands in for TensorRTBackend (no GPU here): an engine at PATH answers as the FP32 graph beside it
    (PATH's folder / model.onnx, on ONNX Runtime)."""

    def __init__(self, path, *a, **k):
        from droptrack.engine.onnxruntime_backend import OrtBackend

        self.graph = OrtBackend(path.parent / "model.onnx")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def infer(self, template, search):
        return self.graph.infer(template, search)
