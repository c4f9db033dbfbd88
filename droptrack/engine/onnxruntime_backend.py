"""ONNX Runtime backend: a `dt export` graph (FP32, FP16 or INT8 Q/DQ) on CPU or CUDA.

Everything the runtime needs (sizes, crop factors, mean/std, precision) comes from the graph's
metadata_props, so no config file is needed. Inputs may be numpy arrays or torch tensors; outputs are numpy.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from droptrack.artifact import ArtifactMeta
from droptrack.engine.base import INPUT_NAMES, OUTPUT_NAMES, Backend, to_numpy
from droptrack.engine.onnx_files import CheckedGraph
from droptrack.engine.threads import env_threads
from droptrack.errors import BackendError, MetadataError
from droptrack.paths import cache_root, check_regular

INSTALL_HINT = "pip install 'droptrack[cpu]' (or onnxruntime-gpu for CUDA)"
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"


def require_onnxruntime(why: str) -> None:
    """A one-line error before any work where ONNX Runtime is not installed (`why`: the job that needs it), not a
    traceback (dt export) or a failed row after the reference run (dt bench)."""
    try:
        importlib.import_module("onnxruntime")   # only whether it imports
    except ImportError:
        raise BackendError(f"{why}, and onnxruntime is not installed; {INSTALL_HINT}") from None


def choose_providers(device: str, available: list[str], tensorrt_ok: bool = False) -> list[str]:
    """Execution providers for `device` ('cpu' | 'cuda'): TensorRT EP (when its libraries load) + CUDA + CPU."""
    device = str(device).split(":")[0]
    if device == "cpu":
        return [CPU]
    if device != "cuda":
        raise BackendError(f"unknown device '{device}' for ONNX Runtime; use cpu or cuda")
    if CUDA not in available:
        raise BackendError(f"--device cuda needs onnxruntime-gpu, but this onnxruntime only has {available}; "
                           "pip uninstall onnxruntime && pip install onnxruntime-gpu (never both flavours)")
    return ([TRT] if tensorrt_ok and TRT in available else []) + [CUDA, CPU]


def gpu_index(device: str) -> int:
    """The GPU of 'cuda' (0) or 'cuda:N' (N); both GPU providers take it as `device_id` (else they run on GPU 0)."""
    _, _, index = str(device).partition(":")
    return int(index) if index else 0


def ort_trt_cache(versions: dict[str, str]) -> Path:
    """The TensorRT provider's engine and timing cache folder, one per ONNX Runtime + TensorRT version (`versions`):
    its cached engines and timing caches are valid for the versions that wrote them only (ONNX Runtime's TensorRT
    provider docs: clean the cache when either changes), and a plan of another version fails or crashes its load.
    Under $DT_CACHE_DIR when set, as the engine cache of `dt export --engine`."""
    tag = "_".join(f"{k}-{versions.get(k) or 'unknown'}" for k in ("onnxruntime", "tensorrt"))
    return cache_root() / "ort-trt" / "".join(c if c.isalnum() or c in "._-" else "_" for c in tag)


def provider_options(providers: list[str], device: str = "cpu", versions: dict[str, str] | None = None) -> list[dict]:
    """Options of each provider: the GPU `device` names ('cuda:N') for the CUDA and TensorRT providers, and the
    TensorRT provider's engine and timing caches (`ort_trt_cache` of `versions`)."""
    opts = []
    for p in providers:
        if p == TRT:
            cache = ort_trt_cache(versions or {})
            opts.append({"device_id": gpu_index(device), "trt_engine_cache_enable": True,
                         "trt_engine_cache_path": str(cache), "trt_timing_cache_enable": True,
                         "trt_timing_cache_path": str(cache)})   # unset, ORT writes it to the working directory
        elif p == CUDA:
            opts.append({"device_id": gpu_index(device)})
        else:
            opts.append({})
    return opts


def open_session(ort, path: Path, so, providers: list[str], device: str, versions: dict[str, str]):
    """An InferenceSession on `providers` with ONNX Runtime's own fallback off: on a provider that failed to start
    (the TensorRT provider out of memory on cuda:1) it retried, at load or at a run, without provider options, so
    on GPU 0 whatever --device said, and the latency read as cuda:N's. A TensorRT provider that fails to start is
    dropped here instead, keeping each provider's device."""
    def session(chosen: list[str]):
        made = ort.InferenceSession(str(path), so, providers=chosen, enable_fallback=0,
                                    provider_options=provider_options(chosen, device, versions))
        made.disable_fallback()   # at a run too, also on an ONNX Runtime that ignores enable_fallback
        return made

    try:
        return session(providers)
    except Exception:  # noqa: BLE001 - ORT raises its own exception types
        if TRT not in providers:
            raise
        return session([p for p in providers if p != TRT])


def session_options(ort, threads: int = 0):
    """Full graph optimisation, warnings silenced, `threads` intra-op threads when given; 0: OMP_NUM_THREADS when
    set, as torch and `dt run` take it (ONNX Runtime's own pool ignores it and spun on every core), else ORT's
    default."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    threads = threads or env_threads()
    if threads:
        so.intra_op_num_threads = threads
    return so


def run_batched(session, names: list[str], template: np.ndarray, search: np.ndarray,
                batch: int | None) -> list[np.ndarray]:
    """`names` for every item, in calls of the graph's static `batch` (None: one call); a short last call is filled
    with copies of its last item, whose outputs are dropped (model_ort.onnx takes a frame's 2 crops in one call, and
    still serves a frame that sends 1: an item's outputs do not depend on the others in the batch)."""
    n = template.shape[0]
    if n == 0:   # no items: empty outputs, as the torch backend gives (their shapes from one call on zeros)
        z, x = (np.zeros((batch or 1, *a.shape[1:]), np.float32) for a in (template, search))
        return [o[:0] for o in session.run(names, {"template": z, "search": x})]
    step = n if batch is None else batch
    parts = []
    for i in range(0, n, step):
        z, x = template[i:i + step], search[i:i + step]
        short = step - z.shape[0]
        if short:
            z = np.concatenate([z, np.repeat(z[-1:], short, axis=0)])
            x = np.concatenate([x, np.repeat(x[-1:], short, axis=0)])
        out = session.run(names, {"template": z, "search": x})
        parts.append([o[:step - short] for o in out] if short else out)
    return [np.concatenate([p[j] for p in parts], axis=0) if len(parts) > 1 else parts[0][j]
            for j in range(len(names))]


def _meta_from_session(sess, path: Path) -> ArtifactMeta:
    """The graph's ArtifactMeta, read from the session (`meta_from_props`)."""
    return meta_from_props(dict(sess.get_modelmeta().custom_metadata_map), path)


def meta_from_props(props: dict[str, str], path: str | Path) -> ArtifactMeta:
    """A graph's ArtifactMeta from its metadata_props; a graph without it (not from `dt export`) or with a malformed
    one is a MetadataError, a fault of the file on every device (dt doctor and dt bench refuse it as bad input rather
    than as a finding of one device)."""
    if "droptrack.arch" not in props:
        raise MetadataError(f"'{path}' has no droptrack metadata (not exported by `dt export`); re-export it with "
                            "`dt export CHECKPOINT`")
    try:
        return ArtifactMeta.from_strings(props)
    except MetadataError as exc:
        raise MetadataError(f"model '{path}' {exc}") from None


class OrtBackend(Backend):
    """One ONNX graph in an ONNX Runtime session (a static batch: larger batches run in calls of it, `run_batched`)."""

    name = "onnxruntime"

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0, checked: CheckedGraph | None = None):
        """`checked`: the caller's check of this file (`onnx_files.check_graph`): while the file is unchanged it is
        not parsed again (a large graph's parse costs hundreds of MB)."""
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendError(f"running .onnx models needs onnxruntime; {INSTALL_HINT}") from None
        self.path = Path(path)
        check_regular("model", self.path, BackendError)
        if self.path.is_dir():   # dt export's output folder, or a folder named .onnx: it was 'not found'
            raise BackendError(f"model '{self.path}' is a folder, not an ONNX graph; pass the .onnx file in it")
        if not self.path.is_file():
            raise BackendError(f"model '{self.path}' not found; export one with `dt export`")
        from droptrack.engine.onnx_files import check_external_data
        from droptrack.engine.trt_compat import import_tensorrt

        # weights outside the model's folder: refused, never read; the files it reads, for the resume fingerprint
        known = checked.locations_for(self.path) if checked is not None else None
        self.external_data: list[str] = check_external_data(self.path, BackendError) if known is None else known

        trt = import_tensorrt() if str(device).startswith("cuda") else None
        providers = choose_providers(device, ort.get_available_providers(), tensorrt_ok=trt is not None)
        versions = {"onnxruntime": ort.__version__, "tensorrt": getattr(trt, "__version__", "")}
        try:
            self.session = open_session(ort, self.path, session_options(ort, threads), providers, device, versions)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            raise BackendError(f"onnxruntime cannot load '{self.path}': {str(exc).splitlines()[0][:200]}") from None
        if str(device).startswith("cuda") and CUDA not in self.session.get_providers():
            raise BackendError("onnxruntime fell back to CPU: the CUDA provider did not start (CUDA/cuDNN libraries "
                               "missing or mismatched); run `dt doctor` or use --device cpu")
        if str(device).startswith("cuda"):
            on = str(self.session.get_provider_options().get(CUDA, {}).get("device_id", gpu_index(device)))
            if on != str(gpu_index(device)):
                raise BackendError(f"onnxruntime put the CUDA provider on GPU {on}, not {device}; check "
                                   "CUDA_VISIBLE_DEVICES and `dt doctor`'s GPU list")
        super().__init__(_meta_from_session(self.session, self.path))
        self._device = str(device) if str(device).startswith("cuda") else "cpu"
        self._batch = self._check_io()

    def _check_io(self) -> int | None:
        """Input names/shapes/dtypes against the metadata; returns the static batch (None = dynamic). A graph that
        differs from its own metadata is a MetadataError: the file's fault on every device (dt doctor: exit 2)."""
        exp = self.input_shapes(1)
        inputs = {i.name: i for i in self.session.get_inputs()}
        if set(inputs) != set(INPUT_NAMES):
            raise MetadataError(f"'{self.path.name}' has inputs {sorted(inputs)}, expected {list(INPUT_NAMES)}; "
                               "re-export it with `dt export`")
        batch = None
        for name in INPUT_NAMES:
            i = inputs[name]
            if i.type != "tensor(float)":
                raise MetadataError(f"input '{name}' of '{self.path.name}' is {i.type}, expected float32 I/O")
            shape = [d if isinstance(d, int) else None for d in i.shape]
            if len(shape) != 4 or any(s is not None and s != e for s, e in zip(shape[1:], exp[name][1:])):
                raise MetadataError(f"input '{name}' of '{self.path.name}' has shape {i.shape} but its metadata "
                                   f"says {exp[name]}; re-export the model")
            batch = shape[0]
        outputs = {o.name: o for o in self.session.get_outputs()}
        missing = [o for o in OUTPUT_NAMES if o not in outputs]
        if missing:
            raise MetadataError(f"'{self.path.name}' lacks outputs {missing}; re-export it with `dt export`")
        f = self.meta.feat_size   # maps of other shapes would fail the box decoding at the first frame
        for name, channels in zip(OUTPUT_NAMES, (1, 2, 2)):
            shape = [d if isinstance(d, int) else None for d in outputs[name].shape or []]
            if len(shape) != 4 or any(s is not None and s != e for s, e in zip(shape[1:], (channels, f, f))):
                raise MetadataError(f"output '{name}' of '{self.path.name}' has shape {outputs[name].shape} but its "
                                   f"metadata says (batch, {channels}, {f}, {f}); re-export the model")
        return batch

    @property
    def device(self) -> str:
        """Where the session runs ('cpu', 'cuda' or 'cuda:N')."""
        return self._device

    @property
    def providers(self) -> list[str]:
        """Providers the session actually runs on."""
        return list(self.session.get_providers())

    def _infer(self, template, search) -> dict[str, np.ndarray]:
        z = np.ascontiguousarray(to_numpy(template), dtype=np.float32)
        x = np.ascontiguousarray(to_numpy(search), dtype=np.float32)
        outs = run_batched(self.session, list(OUTPUT_NAMES), z, x, self._batch)
        return dict(zip(OUTPUT_NAMES, outs))

    @property
    def released(self) -> bool:
        """Whether `close` dropped the session."""
        return getattr(self, "session", None) is None

    def close(self) -> None:
        """Drop the ONNX Runtime session (its memory is freed once no other reference holds it)."""
        self.session = None
