"""PyTorch -> ONNX FP32: static shapes, CE with constant keep counts, checked, simplified, self-describing.

The exported graph takes `template` (1x3xZxZ) and `search` (1x3xXxX) normalised float32 RGB and returns
`score_map`, `size_map` and `offset_map` only; cropping, the Hann window and box decoding stay in numpy
(droptrack.geometry), shared by every runtime.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from droptrack.artifact import ArtifactMeta, sha256_file
from droptrack.engine.base import INPUT_NAMES, OUTPUT_NAMES
from droptrack.engine.onnx_files import model_problem, without_weights
from droptrack.errors import ExportError, MetadataError, OutputFull, disk_full, full_message

MIN_OPSET = 17          # LayerNormalization is an ONNX op from opset 17 on
DEFAULT_OPSET = 17
# The ONE place that picks the exporter. The TorchScript exporter is ~6x faster here and reaches opset 17
# exactly; the dynamo exporter emits opset 18 and its down-conversion to 17 fails on this graph.
EXPORTER = "torchscript"    # or "dynamo"
# CE tokens are ranked by a separate softmax of the selected template rows (model.vit.Attention `rank_rows`):
# the main attention (MatMul -> Softmax -> MatMul) then has no second consumer, so TensorRT can fuse it, and
# the reduced-precision graphs keep only the small ranking branch in FP32 (export.precision)
CE_RANK_BRANCH = True
SIMPLIFY_ATOL = 1e-6   # a simplified graph is kept only if its outputs stay this close to the raw export


class ExportWrapper(nn.Module):
    """(template, search) -> (score_map, size_map, offset_map), static CE template index, CE ranking branch."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.eval()  # torch.onnx.export restores the wrapper's mode afterwards: keep it (and the model) in eval

    def forward(self, template: torch.Tensor, search: torch.Tensor):
        out = self.model(template, search, ce_template_mask=self.model.template_index,
                         ce_rank_branch=CE_RANK_BRANCH)
        return out["score_map"], out["size_map"], out["offset_map"]


def max_opset() -> int:
    """The newest opset this torch's ONNX exporter can write (torch.onnx's own limit)."""
    from torch.onnx import _constants

    return int(getattr(_constants, "ONNX_MAX_OPSET", DEFAULT_OPSET))


def check_opset(opset: int) -> int:
    """Reject opsets without the LayerNormalization op, and opsets newer than the exporter knows."""
    if int(opset) < MIN_OPSET:
        raise ExportError(f"opset {opset} is too old: LayerNormalization needs opset >= {MIN_OPSET}; "
                          f"use --opset {DEFAULT_OPSET}")
    if int(opset) > max_opset():
        raise ExportError(f"opset {opset} is newer than this torch's ONNX exporter writes (at most {max_opset()}); "
                          f"use --opset {DEFAULT_OPSET}")
    return int(opset)


def torch_to_onnx(wrapper: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path, opset: int,
                  output_names: tuple[str, ...]) -> str:
    """Export with the configured exporter (static shapes); returns the exporter's name."""
    kw = dict(input_names=list(INPUT_NAMES), output_names=list(output_names), opset_version=opset)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            if EXPORTER == "dynamo":
                torch.onnx.export(wrapper, inputs, str(path), dynamo=True, **kw)
            else:
                torch.onnx.export(wrapper, inputs, str(path), dynamo=False, do_constant_folding=True, **kw)
        except OSError as exc:
            if disk_full(exc):   # the exporter's own file write does not name the file
                raise OutputFull(full_message(exc, path)) from None
            raise
    return EXPORTER


@dataclass
class GraphReport:
    """What the graph contains: op counts, CE ops with constant K, and any data-dependent shapes."""

    op_counts: dict[str, int]
    topk_constant_k: bool
    dynamic_tensors: list[str] = field(default_factory=list)
    opset: int = 0

    @property
    def clean(self) -> bool:
        """Static shapes everywhere, constant TopK K, no NonZero (boolean indexing)."""
        return self.topk_constant_k and not self.dynamic_tensors and "NonZero" not in self.op_counts


def graph_report(model) -> GraphReport:
    """Inspect an onnx.ModelProto (shape inference on a copy without its large weights: same shapes, and it spares
    serialising hundreds of MB of a ViT-B's weights for ONNX's shape inference)."""
    import onnx

    inits = {i.name for i in model.graph.initializer}
    consts = {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    topk = [n for n in model.graph.node if n.op_type == "TopK"]
    const_k = all(n.input[1] in inits or n.input[1] in consts for n in topk)
    try:
        inferred = onnx.shape_inference.infer_shapes(without_weights(model))
    except Exception:  # noqa: BLE001 - report as "unknown" rather than fail the export
        inferred = model
    dynamic = []
    for v in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = v.type.tensor_type.shape.dim
        if any(not d.HasField("dim_value") for d in dims):
            dynamic.append(v.name)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    return GraphReport(dict(Counter(n.op_type for n in model.graph.node)), const_k, dynamic, opset)


def set_metadata(model, meta: ArtifactMeta) -> None:
    """Replace the droptrack.* metadata_props of an onnx.ModelProto with `meta`."""
    keep = [(p.key, p.value) for p in model.metadata_props if not p.key.startswith("droptrack.")]
    del model.metadata_props[:]
    for k, v in keep + sorted(meta.to_strings().items()):
        p = model.metadata_props.add()
        p.key, p.value = k, v


def load_graph(path: Path, unreadable: str):
    """An .onnx file's graph without its weights, its external data checked to lie in its folder and its graph to
    hold no loop or tensor of gigabytes (before TensorRT's parser or onnx.load reads them); a file that does not
    parse -> ExportError `unreadable`, '{error}' in it replaced by the parser's exception class."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure means the file is not a usable ONNX model
        raise ExportError(unreadable.replace("{error}", exc.__class__.__name__)) from None
    problem = model_problem(model, path)
    if problem:
        raise ExportError(problem)
    return model


def check_onnx_file(onnx_path: Path) -> Any:
    """A parseable ONNX model (not truncated, not another file renamed to .onnx): its graph without the weights of
    external data files, else a one-line ExportError."""
    return load_graph(onnx_path, f"'{onnx_path}' is not a valid ONNX model (corrupt or truncated: {{error}}); "
                                 "export it again with `dt export CHECKPOINT`")


def read_metadata(path: str | Path) -> ArtifactMeta:
    """ArtifactMeta stored in an ONNX file's metadata_props (weights are not loaded)."""
    return graph_metadata(read_graph(path), path)


def read_graph(path: str | Path):
    """An exported .onnx file's graph without its external weights (`load_graph`), or a one-line ExportError."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"ONNX file '{path}' not found; export it with `dt export`")
    return load_graph(path, f"'{path}' is not a readable ONNX file ({{error}}); re-export it")


def graph_metadata(model, path: str | Path) -> ArtifactMeta:
    """ArtifactMeta stored in the metadata_props of an onnx.ModelProto read from `path` (named in the errors)."""
    props = {p.key: p.value for p in model.metadata_props}
    if "droptrack.arch" not in props:
        raise ExportError(f"'{path}' has no droptrack metadata (not exported by `dt export`); re-export it with "
                          "`dt export CHECKPOINT`")
    try:
        return ArtifactMeta.from_strings(props)
    except MetadataError as exc:
        raise ExportError(f"'{path}' {exc}") from None


def _fold_with_onnxruntime(src: Path, dst: Path) -> None:
    """Fallback simplifier: ONNX Runtime's basic (standard-op) constant folding, written to `dst`."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])


def simplify(src: Path, dst: Path, check: Callable[[Path], bool]) -> str:
    """Simplify `src` into `dst` (onnxslim, else ORT basic folding); keep it only if `check(dst)` passes.

    Returns the tool used, or '' when the simplified graph was rejected or no tool ran (dst then absent).
    """
    import onnx

    tool = ""
    try:
        import onnxslim

        with contextlib.redirect_stdout(io.StringIO()):
            onnx.save(onnxslim.slim(onnx.load(str(src))), str(dst))
        tool = f"onnxslim {getattr(onnxslim, '__version__', '')}".strip()
    except ImportError:
        try:
            _fold_with_onnxruntime(src, dst)
            tool = "onnxruntime basic folding"
        except Exception as exc:  # noqa: BLE001 - simplification is optional; a full disk is not
            if disk_full(exc):
                raise OutputFull(full_message(exc, dst)) from None
            tool = ""
    except Exception as exc:  # noqa: BLE001 - a simplifier crash must not fail the export; a full disk does
        if disk_full(exc):
            raise OutputFull(full_message(exc, dst)) from None
        tool = ""
    if tool and dst.is_file() and check(dst):
        return tool
    dst.unlink(missing_ok=True)
    return ""


def finalize_model(path: Path, meta: ArtifactMeta) -> GraphReport:
    """Stamp metadata, run onnx.checker and return the graph report (file rewritten in place)."""
    import onnx

    model = onnx.load(str(path))
    set_metadata(model, meta)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"onnx.checker rejected the exported graph: {str(exc).splitlines()[0]}") from None
    onnx.save(model, str(path))
    return graph_report(model)


def export_meta(cfg, model, precision: str, checkpoint_sha256: str, **extra) -> ArtifactMeta:
    """ArtifactMeta of an exported graph (precision, checkpoint hash, export details in `extra`)."""
    from droptrack.config import meta_from_config

    meta = meta_from_config(cfg, arch=model.variant, checkpoint_sha256=checkpoint_sha256)
    meta.precision = precision
    meta.extra = {"template_index": list(model.template_index or []),
                  "keep_counts": [k for k in model.backbone.keep_counts() if k is not None],
                  "input_names": list(INPUT_NAMES), "output_names": list(OUTPUT_NAMES), **extra}
    return meta


def example_inputs(meta: ArtifactMeta) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic example inputs with the artifact's static shapes (tracing only)."""
    g = torch.Generator().manual_seed(0)
    z, x = meta.template_size, meta.search_size
    return torch.randn(1, 3, z, z, generator=g), torch.randn(1, 3, x, x, generator=g)


def checkpoint_hash(path: str | Path | None) -> str:
    """sha256 of a checkpoint file ('' for in-memory models)."""
    return sha256_file(path) if path is not None else ""
