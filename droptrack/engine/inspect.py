"""What TensorRT made of a graph: the engine inspector's layer JSON summarised (precisions, attention, reformats).

`engine_layer_info` asks TensorRT's IEngineInspector (`LayerInformationFormat.JSON`) for every layer of an
engine; engines built by `dt export --engine` use ProfilingVerbosity.DETAILED, so each layer carries its type,
tactic and input/output formats. `summarize_layers` is pure (no TensorRT), so it is tested on hand-made JSON.
Schema differences handled: TensorRT 10 lists I/O names under "Bindings", TensorRT 11 under "I/O Tensors";
engines built with LAYER_NAMES_ONLY list layers as plain strings (then only names are known).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from droptrack.errors import BackendError

# tensor-format strings name the type like "Row major linear FP16 format (kLINEAR)" or "Int8 NC/32HW32"
_DTYPES = (("fp8", r"\bfp8\b"), ("int8", r"\bint8\b"), ("bf16", r"\bbf16\b"), ("fp16", r"\bfp16\b|\bhalf\b"),
           ("fp32", r"\bfp32\b|\bfloat\b"), ("int32", r"\bint32\b"), ("int64", r"\bint64\b"), ("bool", r"\bbool\b"))
# fused attention shows up as Myelin/kgen kernels with these names (mha, fmha, flash attention, "attention")
ATTENTION_PATTERN = re.compile(r"mha|flash|attention", re.IGNORECASE)
REFORMAT_PATTERN = re.compile(r"reformat", re.IGNORECASE)


@dataclass
class LayerSummary:
    """Counts over an engine's layers: types, output precisions, fused attention and reformat layers."""

    layers: int
    detailed: bool
    layer_types: dict[str, int] = field(default_factory=dict)
    output_precisions: dict[str, int] = field(default_factory=dict)
    attention_layers: list[str] = field(default_factory=list)
    reformat_layers: int = 0
    io: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def tensor_dtype(fmt: str) -> str:
    """Element type named by a TensorRT format string ('?' if none)."""
    low = fmt.lower()
    return next((name for name, pat in _DTYPES if re.search(pat, low)), "?")


def _layer_text(layer: dict) -> str:
    keys = ("Name", "LayerType", "TacticName", "Metadata")
    return " ".join(str(layer.get(k, "")) for k in keys)


def summarize_layers(info: dict | str) -> LayerSummary:
    """Summarise `IEngineInspector.get_engine_information(JSON)` output (a dict or its JSON text)."""
    data = json.loads(info) if isinstance(info, str) else info
    layers = data.get("Layers", [])
    io = data.get("Bindings") or [t.get("Name", "?") for t in data.get("I/O Tensors", [])]
    detailed = any(isinstance(layer, dict) for layer in layers)
    types: Counter = Counter()
    precisions: Counter = Counter()
    attention, reformats = [], 0
    for layer in layers:
        if not isinstance(layer, dict):
            name = str(layer)
            reformats += bool(REFORMAT_PATTERN.search(name))
            if ATTENTION_PATTERN.search(name):
                attention.append(name)
            continue
        types[str(layer.get("LayerType", "?"))] += 1
        for out in layer.get("Outputs", []):
            precisions[tensor_dtype(str(out.get("Format/Datatype", out.get("DataType", ""))))] += 1
        text = _layer_text(layer)
        if str(layer.get("LayerType", "")).lower() == "reformat" or REFORMAT_PATTERN.search(text):
            reformats += 1
        if ATTENTION_PATTERN.search(text):
            attention.append(str(layer.get("Name", "?")))
    return LayerSummary(len(layers), detailed, dict(types), dict(precisions), attention, reformats, list(io))


def engine_layer_info(path: str | Path, device: int = 0) -> dict:
    """Layer information of an engine from TensorRT's engine inspector (needs TensorRT and the GPU it was built
    for)."""
    import torch

    from droptrack.engine import trt_compat

    reason = trt_compat.unavailable_reason()
    if reason:
        raise BackendError(f"cannot inspect '{Path(path).name}': {reason}")
    trt = trt_compat.import_tensorrt()
    logger = trt_compat.logger(trt)
    with torch.cuda.device(device):
        _runtime, engine = trt_compat.deserialize(trt, Path(path).read_bytes(), logger)
        with trt_compat.sigint_deferred():   # both may log: a Ctrl-C raised in a log call would be dropped
            inspector = engine.create_engine_inspector()
            text = None if inspector is None else inspector.get_engine_information(trt.LayerInformationFormat.JSON)
        if inspector is None:
            raise BackendError(f"TensorRT could not create an engine inspector for '{Path(path).name}' (see the "
                               "TensorRT log above)")
    return json.loads(text)
