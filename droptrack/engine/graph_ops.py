"""What a graph's nodes say about the file, checked when the graph is read (`onnx_files.check_graph`): ops of a
custom domain, which neither ONNX Runtime nor TensorRT runs here (droptrack registers no custom-op library), and INT8
quantization nodes in a graph whose metadata labels it FP32 or FP16, which dt bench would judge by that precision's
tighter gates. Only that direction is refused: an INT8 export that keeps every group in high precision may hold no
quantized node at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from droptrack.errors import MetadataError

KNOWN_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "com.microsoft")   # ONNX's own and ONNX Runtime's contrib ops
QUANT_OPS = {"QuantizeLinear", "DequantizeLinear", "MatMulInteger", "ConvInteger", "MatMulIntegerToFloat",
             "QAttention", "QGemm", "QEmbedLayerNormalization"}
QUANT_PREFIXES = ("QLinear", "DynamicQuantize", "QOrdered")   # QLinearConv, DynamicQuantizeLinear/MatMul, ...


def all_nodes(graph: Any) -> Iterator[Any]:
    """Every node of a graph (or function), those of its subgraphs (If branches, loop bodies) too."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in [attr.g] * attr.HasField("g") + list(attr.graphs):
                yield from all_nodes(sub)


def is_quantized(op_type: str) -> bool:
    """Whether an op quantizes, dequantizes or computes in integers (an INT8 graph's nodes; none in FP32 or FP16)."""
    return op_type in QUANT_OPS or op_type.startswith(QUANT_PREFIXES)


def _label(model: Any) -> str:
    """The precision the graph's droptrack metadata names ('' when it names none readable: meta_from_props says so)."""
    raw = next((p.value for p in model.metadata_props if p.key == "droptrack.precision"), None)
    try:
        value = json.loads(raw) if raw is not None else ""
    except (ValueError, RecursionError):
        return ""
    return value if isinstance(value, str) else ""


def check_nodes(model: Any, path: str | Path, error: type[Exception]) -> None:
    """Refuse an onnx.ModelProto (one walk over its nodes): an op of a custom domain (as `error`, the caller's bad
    input), or INT8 quantization nodes under an 'fp32' / 'fp16' label (MetadataError: the file contradicts itself)."""
    functions = {(f.domain, f.name) for f in model.functions}   # model-local functions are ONNX, not custom ops
    label = _label(model)
    for node in (n for g in [model.graph, *model.functions] for n in all_nodes(g)):
        if node.domain not in KNOWN_DOMAINS and (node.domain, node.op_type) not in functions:
            raise error(f"model '{path}' has a node {node.name[:60]!r} of op {node.op_type[:60]!r} from the custom "
                        f"domain {node.domain[:60]!r}, which neither ONNX Runtime nor TensorRT runs (droptrack "
                        "loads no custom-op library); re-export it with `dt export CHECKPOINT`")
        if label in ("fp32", "fp16") and is_quantized(node.op_type):
            raise MetadataError(f"model '{path}' is labelled {label} in its metadata but its graph holds INT8 "
                                f"quantization nodes ({node.op_type} {node.name[:60]!r}): the label disagrees with "
                                f"the graph (dt bench would gate it as {label}); re-export it with "
                                "`dt export CHECKPOINT --int8` rather than editing its metadata")
