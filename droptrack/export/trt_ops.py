"""What TensorRT 10's ONNX parser (onnx-tensorrt) accepts, checked on CPU before an engine build of minutes.

The table holds the ops that droptrack's graphs (FP32, FP16, INT8 Q/DQ for TensorRT) and a few close variants use,
with the element types and restrictions of onnx-tensorrt's operator matrix (docs/operators.md, release 10.0 / 10.1
GA, the floor of the 10.x line) and of its importers of that release (Q/DQ: scales constant and positive, zero points
all zero and of the scale's size, never UINT8). An op outside the table is refused: add it here only with its facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DOC = "onnx-tensorrt docs/operators.md, TensorRT 10.0/10.1 GA"
OPSETS = (9, 20)     # the default domain's opset range that parser release documents
TOPK_MAX_K = 3840    # K must stay below this
FLOATS = ("FP32", "FP16", "BF16")
NUMBERS = FLOATS + ("INT32", "INT64")
ANY = NUMBERS + ("BOOL",)
TYPE_NAMES = {1: "FP32", 2: "UINT8", 3: "INT8", 6: "INT32", 7: "INT64", 9: "BOOL", 10: "FP16", 11: "DOUBLE",
              16: "BF16", 17: "FP8", 22: "INT4"}   # onnx.TensorProto codes -> the matrix's names
_BOOL_OUT = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor"}
_INT64_OUT = {"Shape", "Size", "ArgMax", "ArgMin", "NonZero"}


@dataclass(frozen=True)
class OpRule:
    """One op's row: the element types of its checked input `data`, and inputs that must be build-time constants
    (an initializer or a Constant node's output), with the matrix's wording of why."""

    types: tuple[str, ...]
    data: int = 0
    const: tuple[int, ...] = ()
    const_why: str = ""


_AXES = "its axes must be an initializer"
OPS: dict[str, OpRule] = {
    **{op: OpRule(NUMBERS) for op in ("Add", "Sub", "Mul", "Div", "Max", "Min", "Neg", "Abs", "Relu", "Equal",
                                      "Greater", "Less", "ArgMax", "Range", "Mod")},
    **{op: OpRule(FLOATS) for op in ("Conv", "Gemm", "MatMul", "Erf", "Sigmoid", "Tanh", "Softmax", "Sqrt", "Pow",
                                     "Exp", "Clip", "Resize", "LayerNormalization", "Gelu")},
    **{op: OpRule(ANY) for op in ("Concat", "Reshape", "Transpose", "Gather", "GatherElements", "GatherND", "Expand",
                                  "Shape", "Identity", "Flatten", "Split", "Tile", "Constant", "ConstantOfShape")},
    **{op: OpRule(("BOOL",)) for op in ("Not", "And", "Or")},
    **{op: OpRule(NUMBERS, const=(1,), const_why=_AXES) for op in ("ReduceMean", "ReduceSum", "ReduceMax")},
    "ScatterElements": OpRule(NUMBERS), "ScatterND": OpRule(NUMBERS),
    "Where": OpRule(ANY, data=1),
    "Cast": OpRule(ANY + ("UINT8",)),
    "Slice": OpRule(ANY, const=(3,), const_why=_AXES),
    "Squeeze": OpRule(ANY, const=(1,), const_why=_AXES),
    "Unsqueeze": OpRule(ANY, const=(1,), const_why="its axes must be a constant tensor"),
    "TopK": OpRule(NUMBERS),   # K: a constant below 3840, or a shape tensor (see _node_problems)
    "QuantizeLinear": OpRule(FLOATS, const=(1, 2), const_why="its scale and zero point must be constants"),
    "DequantizeLinear": OpRule(("INT8", "FP8", "INT4"), const=(1, 2),
                               const_why="its scale and zero point must be constants"),
}
RESIZE = {"coordinate_transformation_mode": ("half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn",
                                             "asymmetric", "align_corners"),
          "mode": ("nearest", "linear"), "keep_aspect_ratio_policy": ("stretch",),
          "nearest_mode": ("floor", "ceil", "round_prefer_floor", "round_prefer_ceil")}


def _attrs(node) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _element_types(model, consts: dict[str, Any]) -> dict[str, int]:
    """The element type of every tensor as TensorRT's parser sees it, propagated in graph order from the inputs,
    initializers and Constant nodes (no shape inference: a ViT-B graph would be copied whole)."""
    graph = model.graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*graph.input, *graph.value_info, *graph.output)}
    types.update({name: t.data_type for name, t in consts.items()})
    for node in graph.node:
        attrs = _attrs(node)
        first = next((types.get(i, 0) for i in node.input if i), 0)
        if node.op_type == "Cast":
            out = [attrs.get("to", 0)]
        elif node.op_type == "QuantizeLinear":   # no zero point: INT8 (TensorRT never quantizes to UINT8)
            zero = node.input[2] if len(node.input) > 2 else ""
            out = [types.get(zero, 0) if zero else attrs.get("output_dtype") or 3]
        elif node.op_type in ("DequantizeLinear", "Where", "CastLike"):   # the scale's, the values', the target's
            out = [types.get(node.input[1], 0) if len(node.input) > 1 else 0]
        elif node.op_type == "ConstantOfShape":
            out = [attrs["value"].data_type if "value" in attrs else 1]
        elif node.op_type == "TopK":
            out = [first, 7]
        else:
            out = [9 if node.op_type in _BOOL_OUT else 7 if node.op_type in _INT64_OUT else first]
        for i, name in enumerate(node.output):
            if name and name not in types:
                types[name] = out[min(i, len(out) - 1)]
    return types


def _constants(model) -> dict[str, Any]:
    """Initializers and Constant nodes' values by name: what TensorRT's parser holds as weights at build time."""
    import numpy as np
    from onnx import numpy_helper

    consts = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute:
            value = _attrs(node)[node.attribute[0].name]
            if node.attribute[0].name in ("value_float", "value_floats", "value_int", "value_ints"):
                value = numpy_helper.from_array(np.asarray(value, np.float32 if "float" in node.attribute[0].name
                                                           else np.int64))
            if hasattr(value, "data_type"):
                consts[node.output[0]] = value
    return consts


def _shape_computed(model, consts: dict[str, Any]) -> set[str]:
    """Tensors computed from shapes and constants only (Shape's outputs and what is computed from them alone): the
    shape tensors TensorRT can take for a dynamic TopK K, unlike values computed from the pictures."""
    known = set(consts)
    for node in model.graph.node:
        if node.op_type in ("Shape", "Size") or all(i in known for i in node.input if i):
            known.update(o for o in node.output if o)
    return known


def _qdq_problems(node, consts: dict[str, Any]) -> list[str]:
    """Q/DQ as the 10.x importer takes them: positive scales, symmetric INT8 (zero point all zero, never UINT8, as
    many values as the scale), per-channel scales as many as the axis's channels."""
    import numpy as np
    from onnx import numpy_helper

    scale = numpy_helper.to_array(consts[node.input[1]]) if node.input[1] in consts else None
    problems = []
    if scale is not None and not (scale.size and (scale.astype(np.float64) > 0).all()):
        problems.append("its scale has a value <= 0 (every scale must be positive)")
    if len(node.input) > 2 and node.input[2] in consts:
        zp_proto = consts[node.input[2]]
        zero = numpy_helper.to_array(zp_proto)
        if zp_proto.data_type == 2:
            problems.append("its zero point is UINT8 (TensorRT quantizes to INT8 only): quantize symmetrically to "
                            "INT8")
        elif zero.size and np.asarray(zero, dtype=np.float64).any():
            problems.append("its zero point is not all zero (TensorRT quantizes symmetrically only)")
        if scale is not None and zero.size != scale.size:
            problems.append(f"its zero point has {zero.size} values and its scale {scale.size}")
    data = consts.get(node.input[0])
    if scale is not None and scale.size > 1 and data is not None and scale.ndim == 1:
        axis = int(_attrs(node).get("axis", 0))   # TensorRT's default is axis 0 (ONNX's is 1): set it
        dims = list(data.dims)
        if -len(dims) <= axis < len(dims) and dims[axis] != scale.size:
            problems.append(f"its {scale.size} per-channel scales do not match the {dims[axis]} channels of axis "
                            f"{axis} (TensorRT reads a missing axis as 0: write it)")
    return problems


def _node_problems(node, types: dict[str, int], consts: dict[str, Any], shapes: set[str]) -> list[str]:
    """The documented restrictions one node breaks (empty: the parser takes it)."""
    rule = OPS[node.op_type]
    attrs = _attrs(node)
    problems = []
    data = node.input[rule.data] if len(node.input) > rule.data else ""
    kind = TYPE_NAMES.get(types.get(data, 0), "") if data else ""
    if kind and kind not in rule.types:
        problems.append(f"its input '{data}' is {kind}, which it takes only as {', '.join(rule.types)}")
    for i in rule.const:
        if len(node.input) > i and node.input[i] and node.input[i] not in consts:
            problems.append(f"its input '{node.input[i]}' is computed in the graph, but {rule.const_why}")
    op = node.op_type
    if op == "TopK":
        k = consts.get(node.input[1]) if len(node.input) > 1 else None
        if k is None and len(node.input) > 1 and node.input[1] not in shapes:
            problems.append(f"its K '{node.input[1]}' is computed from the pictures (K must be a constant below "
                            f"{TOPK_MAX_K}, or a shape tensor)")
        if k is not None and any(v >= TOPK_MAX_K for v in _ints(k)):
            problems.append(f"its K is {TOPK_MAX_K} or more (the parser takes K below {TOPK_MAX_K})")
        if int(attrs.get("sorted", 1)) != 1:
            problems.append("its sorted attribute is 0 (TensorRT returns the top K sorted only: sorted must be 1)")
    elif op in ("QuantizeLinear", "DequantizeLinear"):
        if len(node.input) < 2 or not node.input[1]:
            problems.append("it has no scale input")
        else:
            problems += _qdq_problems(node, consts)
    elif op == "Cast" and TYPE_NAMES.get(attrs.get("to", 0), "?") not in ANY + ("UINT8",):
        problems.append(f"it casts to {TYPE_NAMES.get(attrs.get('to', 0), attrs.get('to'))}, which Cast does not "
                        f"produce (it produces {', '.join(ANY + ('UINT8',))})")
    elif op == "LayerNormalization" and any(node.output[1:]):
        problems.append("it has its Mean/InvStdDev outputs (only the first output, Y, is supported)")
    elif op == "Constant" and any(a.name.startswith(("sparse", "value_string")) for a in node.attribute):
        problems.append("it holds a sparse or string value (unsupported)")
    elif op == "ScatterND" and _text(attrs.get("reduction", "none")) != "none":
        problems.append(f"its reduction is '{_text(attrs['reduction'])}' (ScatterND supports no reduction)")
    elif op == "Mod" and int(attrs.get("fmod", 0)) == 0 and kind in FLOATS:
        problems.append("it has fmod 0 on floating-point inputs (fmod 0 takes integers only)")
    elif op == "Resize":
        for name, allowed in RESIZE.items():
            if name in attrs and _text(attrs[name]) not in allowed:
                problems.append(f"its {name} is '{_text(attrs[name])}' (supported: {', '.join(allowed)})")
        if int(attrs.get("antialias", 0)):
            problems.append("it antialiases (unsupported)")
    return problems


def _ints(tensor) -> list[int]:
    from onnx import numpy_helper

    return [int(v) for v in numpy_helper.to_array(tensor).reshape(-1)]


def trt_problems(model) -> list[str]:
    """Every node of `model` (an onnx.ModelProto) that TensorRT 10's ONNX parser would refuse, one line each:
    "node 'NAME' (OP): what it breaks" (or the graph's opset). Empty: the parser documents every node as supported."""
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    opset = opsets.get("ai.onnx", 0)
    problems = []
    if not OPSETS[0] <= opset <= OPSETS[1]:
        problems.append(f"its opset {opset} is outside the opsets {OPSETS[0]} to {OPSETS[1]} the parser documents "
                        "(`dt export CHECKPOINT --opset 17` writes 17)")
    consts = _constants(model)
    types = _element_types(model, consts)
    shapes = _shape_computed(model, consts)
    for i, node in enumerate(model.graph.node):
        where = f"node '{node.name or f'#{i}'}' ({node.op_type})"
        if node.domain not in ("", "ai.onnx") or node.op_type not in OPS:
            domain = f" of domain '{node.domain}'" if node.domain not in ("", "ai.onnx") else ""
            problems.append(f"{where}: op {node.op_type}{domain} is not among the ops droptrack knows TensorRT 10's "
                            "parser to take (ONNX Runtime's graphs model_ort.onnx and model_int8_ort.onnx hold such "
                            "ops)")
            continue
        problems += [f"{where}: {p}" for p in _node_problems(node, types, consts, shapes)]
    return problems
