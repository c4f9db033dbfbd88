"""Precision is an ONNX -> ONNX step: FP16 with FP32 islands, INT8 with explicit Q/DQ.

TensorRT 11 only builds strongly typed networks (precision comes from the graph), and TensorRT 10 can build
them too, so these graphs are the one precision path valid on both.

FP16: onnxconverter-common's converter (ONNX Runtime's copy as a fallback), float32 inputs/outputs, and
two FP32 islands:
* the candidate-elimination ranking branch (`ce_rank_nodes`: the separate softmax of the template row(s)
  over all keys, its slice, means and TopK; see export.onnx.CE_RANK_BRANCH): FP16 rounding of the scores
  would swap near-tied tokens, so the ranking is computed in FP32 from the (FP16) q and k;
* the sigmoid heads with their clamp (`FP16_BLOCK_OPS`; 1 - 1e-4 is not representable in FP16).
Not islands, on purpose:
* LayerNormalization: opset 17 gives TensorRT's own normalization layer (INormalizationLayer), which is
  NVIDIA's fix for FP16 LayerNorm overflow (TensorRT's warning quoted in pytorch/TensorRT#2730 and PR #2509;
  shared/reference/deployment.md 2.1); the op's stash_type=1 (default) keeps mean/variance in FP32.
  An FP32 island only adds two casts per LayerNorm (25 per ViT-B).
* the attention Softmax: TensorRT fuses attention from MatMul -> Softmax -> MatMul with the scale on q
  (TensorRT "Fused Attention" guide, docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/
  transformers-fused-attention.html); casts to FP32 and back between the MatMuls break that pattern [E],
  and fused kernels accumulate the softmax in FP32 internally. The ranking no longer reads this Softmax.

INT8 graphs (one per target, TensorRT and ONNX Runtime CPU) are built in droptrack.export.quantize; the TensorRT
one uses `fp16_model` as its base.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Sequence

from droptrack.artifact import ArtifactMeta
from droptrack.errors import ExportError
from droptrack.export.onnx import set_metadata

PRECISIONS = ("fp32", "fp16", "int8")
FP16_BLOCK_OPS = ("TopK", "Sigmoid", "Clip")


def parse_precisions(values: list[str] | tuple[str, ...] | str) -> list[str]:
    """'fp16,int8' / ['fp16'] -> ordered unique list starting with fp32; unknown -> one-line ExportError."""
    import difflib

    items = values.split(",") if isinstance(values, str) else [v for s in values for v in str(s).split(",")]
    out = ["fp32"]
    aliases = {"float32": "fp32", "float16": "fp16", "half": "fp16", "i8": "int8"}
    for raw in items:
        v = aliases.get(raw.strip().lower(), raw.strip().lower())
        if not v:
            continue
        if v not in PRECISIONS:
            close = difflib.get_close_matches(v, PRECISIONS, n=1, cutoff=0.3)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ExportError(f"unknown precision '{raw}'; {hint}choose from {', '.join(PRECISIONS)}")
        if v not in out:
            out.append(v)
    return out


def _fp16_converter(tool: str | None = None):
    """onnxconverter-common's FP16 converter, or ONNX Runtime's copy when it is missing (or `tool` asks for it)."""
    if tool != "onnxruntime.transformers.float16":
        try:
            from onnxconverter_common.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

            return convert_float_to_float16, list(DEFAULT_OP_BLOCK_LIST), "onnxconverter-common"
        except ImportError:
            pass
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    return convert_float_to_float16, list(DEFAULT_OP_BLOCK_LIST), "onnxruntime.transformers.float16"


def convert_fp16(src: Path, dst: Path, meta: ArtifactMeta, keep_fp32: Sequence[str] = ()) -> dict:
    """FP32 ONNX -> FP16 ONNX with FP32 islands and float32 I/O; returns details for the metadata.
    `keep_fp32`: node-name patterns also kept in FP32 (`dt export --keep-fp32`, see `fp32_nodes`)."""
    import onnx

    model = onnx.load(str(src))
    n_ranking = len(ce_rank_nodes(model))
    n_kept = len(fp32_nodes(model, keep_fp32))
    half = fp16_model(model, keep_fp32=keep_fp32)
    details = {"fp16_tool": _fp16_converter()[2], "fp32_ops": list(FP16_BLOCK_OPS), "fp32_ce_ranking_nodes": n_ranking,
               "source_precision": "fp32"}
    if keep_fp32:
        details.update(fp32_kept_patterns=list(keep_fp32), fp32_kept_nodes=n_kept)
    meta.extra.update(details)
    set_metadata(half, meta)
    onnx.save(half, str(dst))
    return details


def fp16_model(model, tool: str | None = None, keep_fp32: Sequence[str] = ()):
    """An FP32 ONNX model -> FP16 with the FP32 islands and float32 inputs/outputs (in memory); `keep_fp32`:
    node-name patterns kept in FP32 as well."""
    import onnx

    convert, block, _ = _fp16_converter(tool)
    block = sorted(set(block) | set(FP16_BLOCK_OPS))
    kept = fp32_nodes(model, keep_fp32)
    nodes = sorted(set(ce_rank_nodes(model)) | set(kept))
    if kept:   # the converter types a kept node's outputs from stale value_info (a float16 tensor fed float32)
        del model.graph.value_info[:]
    unshare_initializers(model, set(block), set(nodes))
    with warnings_quiet():
        half = convert(model, keep_io_types=True, op_block_list=block, node_block_list=nodes)
    float_outputs(half)
    topo_sort(half.graph)
    return onnx.shape_inference.infer_shapes(half) if kept else half


def check_keep_patterns(patterns: Sequence[str]) -> None:
    """`--keep-fp32` patterns must be regular expressions; else a one-line ExportError."""
    import re

    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ExportError(f"--keep-fp32 {p!r} is not a regular expression ({exc}); e.g. --keep-fp32 "
                              "'/box_head/' or --keep-fp32 'blocks\\.0/'") from None


def closest_part(pattern: str, names: Sequence[str]) -> str | None:
    """The '/'-separated part of a node name nearest a pattern that matched nothing (a misspelt 'box_haed' ->
    'box_head'), read as plain text without its slashes and escapes; None when nothing is close."""
    import difflib

    core = pattern.replace("\\", "").strip("/^$")
    parts = sorted({part for n in names for part in n.split("/") if part})
    near = difflib.get_close_matches(core, parts, n=1, cutoff=0.75)
    return near[0] if near else None


def fp32_nodes(model, patterns: Sequence[str]) -> list[str]:
    """Nodes whose name a `--keep-fp32` pattern (a regular expression, searched) matches; a pattern that matches
    no node -> one-line ExportError naming what node names look like."""
    import re

    check_keep_patterns(patterns)
    names = [n.name for n in model.graph.node]
    out: set[str] = set()
    for p in patterns:
        hit = {n for n in names if re.search(p, n)}
        if not hit:
            example = next((n for n in names if "/blocks." in n), names[0] if names else "")
            near = closest_part(p, names)
            hint = f"did you mean --keep-fp32 '/{re.escape(near)}/'? " if near else ""
            raise ExportError(f"--keep-fp32 {p!r} matches no node of the graph; {hint}node names look like "
                              f"{example!r}")
        out |= hit
    return sorted(out)


def topo_sort(graph) -> None:
    """Order the nodes so each comes after its inputs' producers (stable); ONNX Runtime's FP16 converter appends
    its input casts at the end, which onnx.checker and TensorRT's parser reject."""
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, order = list(graph.node), []
    while pending:
        rest = []
        for n in pending:
            if all(i in ready for i in n.input):
                order.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):  # a cycle or a dangling input: leave the rest as it was, the checker names it
            order += rest
            break
        pending = rest
    if [id(n) for n in order] != [id(n) for n in graph.node]:  # an ordered graph is kept byte for byte
        nodes = [type(n)() for n in order]
        for new, old in zip(nodes, order):
            new.CopyFrom(old)
        del graph.node[:]
        graph.node.extend(nodes)


def float_outputs(model) -> int:
    """Make every graph output float32 (the converter casts FP32-island outputs back to FP16 even with
    keep_io_types); returns the number of outputs fixed."""
    import onnx

    producers = {o: n for n in model.graph.node for o in n.output}
    fixed = 0
    for out in model.graph.output:
        tt = out.type.tensor_type
        if tt.elem_type != onnx.TensorProto.FLOAT16:
            continue
        node = producers.get(out.name)
        if node is not None and node.op_type == "Cast":
            for a in node.attribute:
                if a.name == "to":
                    a.i = onnx.TensorProto.FLOAT
        else:
            tmp = out.name + "__fp16"
            for n in model.graph.node:
                n.output[:] = [tmp if o == out.name else o for o in n.output]
                n.input[:] = [tmp if i == out.name else i for i in n.input]
            model.graph.node.append(onnx.helper.make_node("Cast", [tmp], [out.name], to=onnx.TensorProto.FLOAT,
                                                          name=f"{out.name}_to_float"))
        tt.elem_type = onnx.TensorProto.FLOAT
        fixed += 1
    return fixed


def ce_rank_nodes(model) -> list[str]:
    """Names of the nodes that only feed candidate elimination's TopK scores (the ranking branch), with the TopKs.

    A node is in the branch when it is an ancestor of a TopK's score input but not of any graph output through
    another path (the TopK indices select tokens; the scores themselves reach no output).
    """
    from droptrack.engine.graph_walk import feeding_only

    nodes = [(n.name, list(n.input), list(n.output)) for n in model.graph.node]
    topks = [n for n in model.graph.node if n.op_type == "TopK"]
    branch = feeding_only(nodes, [t.name for t in topks], [t.input[0] for t in topks],
                          [o.name for o in model.graph.output])
    return [n.name for n in model.graph.node if n.name in branch or n.op_type == "TopK"]


def unshare_initializers(model, block: set[str], fp32_names: set[str] = frozenset()) -> int:
    """Give FP32-island nodes (ops in `block`, nodes named in `fp32_names`) their own copy of initializers they
    share with FP16 nodes; returns copies made.

    Simplifiers deduplicate equal tensors (e.g. zero biases of a LayerNorm and a Linear); the FP16 converter
    then keeps the shared tensor in FP32 and the FP16 consumer gets a mistyped input.
    """
    import onnx

    inits = {i.name: i for i in model.graph.initializer}
    users: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            if i in inits:
                users.setdefault(i, []).append(n)
    made = 0
    for name, nodes in users.items():
        kinds = {n.op_type in block or n.name in fp32_names for n in nodes}
        if len(kinds) < 2 or inits[name].data_type != onnx.TensorProto.FLOAT:
            continue
        for n in nodes:
            if not (n.op_type in block or n.name in fp32_names):
                continue
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[name])
            copy.name = f"{name}__fp32_{made}"
            model.graph.initializer.append(copy)
            n.input[:] = [copy.name if i == name else i for i in n.input]
            made += 1
    return made


@contextlib.contextmanager
def warnings_quiet():
    """Silence converter/quantizer chatter (warnings, logging and stdout)."""
    import warnings

    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)
