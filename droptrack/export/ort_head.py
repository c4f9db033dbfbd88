"""ONNX Runtime CPU INT8 graph pass: the box head's large 3x3 convs as one U8S8 integer GEMM over a U8 im2col.

Why: ORT's dynamic quantizer leaves Conv in FP32 (its ConvInteger is slower than ORT's FP32 convs), and in ViT-B 384's
INT8 graph the convs are then 11 % of the time, two thirds of it the head's first 3x3 convs (768 -> 256 channels,
three branches; 66 of 98 ms on an AVX2 Zen 3). Here
the branches that read the same input become one GEMM: the input is quantized once (DynamicQuantizeLinear, U8 from
its own range, like every other quantized activation), padded with its zero point (the U8 value of 0.0), cut into
the 9 taps in NHWC, so that the im2col is a Concat on the channel axis (U8: a quarter of a float im2col's bytes),
and multiplied with per-output-channel symmetric S8 weights (MatMulInteger); scales and bias follow in float.

Only where the GEMM is large enough to pay for its im2col (`MIN_MACS`): ViT-B's first head convs qualify, the
embedded default model's head (128 channels at 10 x 10) does not, so its graph is unchanged. The head group kept
in high precision (`--auto-precision`, `Int8Recipe(keep=...)`) leaves the convs as they are.
"""

from __future__ import annotations

import numpy as np

MIN_MACS = 5e8   # multiply-adds of one merged GEMM (ViT-B 256: 1.4e9, 384: 3.1e9; the default model: 2.2e7)
_INT64_MAX = np.iinfo(np.int64).max


def _conv_3x3_same(node, inits: dict) -> bool:
    """A 3x3, stride 1, pad 1, ungrouped, undilated Conv with a constant weight (and bias, if any)."""
    from onnx import helper

    if node.op_type != "Conv" or node.input[1] not in inits or (len(node.input) > 2 and node.input[2] not in inits):
        return False
    a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    return (list(inits[node.input[1]].dims[2:]) == [3, 3] and a.get("pads", [0] * 4) == [1, 1, 1, 1]
            and a.get("strides", [1, 1]) == [1, 1] and a.get("group", 1) == 1
            and a.get("dilations", [1, 1]) == [1, 1] and a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"))


def head_conv_groups(model, min_macs: float = MIN_MACS) -> dict[str, list[str]]:
    """{input tensor: [conv node names]}: the eligible 3x3 convs of the box head that read one input, where their
    merged GEMM has at least `min_macs` multiply-adds. Needs the plain ONNX graph: the shapes ORT's pre-processing
    recorded in it are read (inferred only where one is missing; ORT's contrib ops of a quantized graph hide them)."""
    from onnx import shape_inference

    inits = {i.name: i for i in model.graph.initializer}
    groups: dict[str, list] = {}
    for n in model.graph.node:
        if "box_head" in n.name and _conv_3x3_same(n, inits):
            groups.setdefault(n.input[0], []).append(n)
    if not groups:
        return {}

    def shapes(graph) -> dict[str, list[int]]:
        return {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
                for v in [*graph.value_info, *graph.input, *graph.output]}

    dims = shapes(model.graph)
    if any(x not in dims for x in groups):   # a graph saved without them (2 s for ViT-B 384 to infer)
        dims = shapes(shape_inference.infer_shapes(model).graph)
    out = {}
    for x, convs in groups.items():
        shape = dims.get(x, [])
        if len(shape) != 4 or not all(shape[2:]):
            continue
        n_out = sum(inits[c.input[1]].dims[0] for c in convs)
        if shape[2] * shape[3] * 9 * inits[convs[0].input[1]].dims[1] * n_out >= min_macs:
            out[x] = [c.name for c in convs]
    return out


def _weights(convs: list, inits: dict, reduce_range: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merged weight as a [9C, N] S8 matrix (rows ordered tap-major, channel-minor, as the NHWC im2col), its
    per-column scales and the float bias [N]."""
    from onnx import numpy_helper

    w = np.concatenate([numpy_helper.to_array(inits[c.input[1]]).astype(np.float32) for c in convs])   # [N, C, 3, 3]
    b = np.concatenate([numpy_helper.to_array(inits[c.input[2]]).astype(np.float32) if len(c.input) > 2
                        else np.zeros(inits[c.input[1]].dims[0], np.float32) for c in convs])
    mat = w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0])   # row (ky * 3 + kx) * C + c
    qmax = 63 if reduce_range else 127   # reduce_range: 7-bit weights, as ORT's (VPMADDUBSW saturation)
    scale = np.abs(mat).max(axis=0) / qmax
    scale[scale == 0] = 1.0
    q = np.clip(np.round(mat / scale), -qmax, qmax).astype(np.int8)
    return q, scale.astype(np.float32), b


def quantize_head_convs(model, groups: dict[str, list[str]], skip: set[str] = frozenset(),
                        reduce_range: bool = False) -> int:
    """Rewrite `model` (ORT's quantized graph) in place: each group of `head_conv_groups` (found on the plain graph
    it was quantized from) none of whose convs is in `skip` -> U8 im2col + MatMulInteger; returns how many convs were
    rewritten."""
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    by_name = {n.name: n for n in g.node}
    done = 0
    for k, (x, names) in enumerate(groups.items()):
        if any(n in skip or n not in by_name for n in names):
            continue
        convs = [by_name[n] for n in names]
        q, scale, bias = _weights(convs, inits, reduce_range)
        p = f"/box_head/int8_im2col{k}"

        def const(name: str, value: np.ndarray) -> str:
            g.initializer.append(numpy_helper.from_array(value, p + name))
            return p + name

        nodes = [helper.make_node("Transpose", [x], [p + "/nhwc"], perm=[0, 2, 3, 1], name=p + "/to_nhwc"),
                 helper.make_node("DynamicQuantizeLinear", [p + "/nhwc"], [p + "/u8", p + "/x_scale", p + "/x_zero"],
                                  name=p + "/quantize"),
                 helper.make_node("Pad", [p + "/u8", const("/pads", np.array([0, 1, 1, 0, 0, 1, 1, 0], np.int64)),
                                          p + "/x_zero"], [p + "/padded"], name=p + "/pad")]
        taps = []
        for ky in range(3):
            for kx in range(3):   # tap (ky, kx) of an (H+2) x (W+2) map: rows ky .. ky+H, without knowing H
                t = f"{p}/tap{ky}{kx}"
                ends = [ky - 2 if ky < 2 else _INT64_MAX, kx - 2 if kx < 2 else _INT64_MAX]
                nodes.append(helper.make_node(
                    "Slice", [p + "/padded", const(f"/tap{ky}{kx}_starts", np.array([ky, kx], np.int64)),
                              const(f"/tap{ky}{kx}_ends", np.array(ends, np.int64)),
                              const("/tap_axes", np.array([1, 2], np.int64)) if not taps else p + "/tap_axes"],
                    [t], name=t))
                taps.append(t)
        splits = np.array([inits[c.input[1]].dims[0] for c in convs], np.int64)
        nodes += [helper.make_node("Concat", taps, [p + "/cols"], axis=3, name=p + "/im2col"),
                  helper.make_node("MatMulInteger", [p + "/cols", const("/weight", q), p + "/x_zero",
                                                     const("/weight_zero", np.array(0, np.int8))],
                                   [p + "/acc"], name=p + "/gemm"),
                  helper.make_node("Cast", [p + "/acc"], [p + "/acc_f"], to=1, name=p + "/to_float"),
                  helper.make_node("Mul", [p + "/x_scale", const("/weight_scale", scale)], [p + "/scale"],
                                   name=p + "/scales"),
                  helper.make_node("Mul", [p + "/acc_f", p + "/scale"], [p + "/y"], name=p + "/dequantize"),
                  helper.make_node("Add", [p + "/y", const("/bias", bias)], [p + "/y_b"], name=p + "/bias"),
                  helper.make_node("Transpose", [p + "/y_b"], [p + "/nchw"], perm=[0, 3, 1, 2], name=p + "/to_nchw"),
                  helper.make_node("Split", [p + "/nchw", const("/splits", splits)], [c.output[0] for c in convs],
                                   axis=1, name=p + "/split")]
        at = min(i for i, n in enumerate(g.node) if n.name in names)
        keep = [n for n in g.node if n.name not in names]
        del g.node[:]
        g.node.extend(keep[:at] + nodes + keep[at:])
        _drop_unused(g, {i for c in convs for i in c.input[1:]})
        done += len(convs)
    return done


def _drop_unused(graph, names: set[str]) -> None:
    """Remove the initializers among `names` that no node reads any more."""
    used = {i for n in graph.node for i in n.input}
    keep = [i for i in graph.initializer if i.name not in names or i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
