"""Graph pass for the CPU INT8 study (issue 13): the box head's 3x3 convs as one im2col MatMul per shared input.

ORT's dynamic quantization turns MatMuls with constant weights into INT8 GEMMs but runs Conv in FP32 (ConvInteger
is slower than ORT's FP32 NCHWc convs). Rewritten as Pad -> 9 Slices -> Concat -> Transpose -> MatMul (the branches
that read the same tensor share one MatMul, then Split), the head becomes INT8-able. The FP32 function is unchanged
(the test compares the rewritten graph's outputs with the original's).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np


def _is_3x3_same(node, weights: set[str]) -> bool:
    """A 3x3, stride 1, pad 1, ungrouped, undilated Conv with constant weights."""
    from onnx import helper

    a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    return (node.op_type == "Conv" and a.get("kernel_shape") == [3, 3] and a.get("pads") == [1, 1, 1, 1]
            and a.get("strides", [1, 1]) == [1, 1] and a.get("group", 1) == 1
            and a.get("dilations", [1, 1]) == [1, 1] and node.input[1] in weights)


def rewrite_head_convs(src: Path, dst: Path) -> int:
    """Write `src` with its 3x3 'same' convs as im2col MatMuls to `dst`; returns how many convs were rewritten."""
    import onnx
    from onnx import helper, numpy_helper, shape_inference

    model = onnx.load(str(src))
    inferred = shape_inference.infer_shapes(model).graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.value_info, *inferred.input]}
    inits = {i.name: i for i in model.graph.initializer}
    groups: dict[str, list] = defaultdict(list)
    for node in model.graph.node:
        if _is_3x3_same(node, set(inits)):
            groups[node.input[0]].append(node)

    def const(name: str, value) -> str:
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    replace: dict[int, list] = {}
    dropped: set[int] = set()
    for g, (x, convs) in enumerate(groups.items()):
        _, c, h, w = shapes[x]
        p = f"/head_im2col{g}"
        nodes = [helper.make_node("Pad", [x, const(p + "/pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))],
                                  [p + "/padded"])]
        taps = []
        for ky in range(3):
            for kx in range(3):
                t = f"{p}/tap{ky}{kx}"
                nodes.append(helper.make_node("Slice", [p + "/padded", const(t + "/starts", np.array([ky, kx], np.int64)),
                                                        const(t + "/ends", np.array([ky + h, kx + w], np.int64)),
                                                        const(t + "/axes", np.array([2, 3], np.int64))], [t]))
                taps.append(t)
        weights, biases, widths = [], [], []
        for conv in convs:
            k = numpy_helper.to_array(inits[conv.input[1]])   # (O, C, 3, 3) -> rows (ky, kx, c), columns O
            weights.append(k.transpose(2, 3, 1, 0).reshape(9 * c, k.shape[0]))
            biases.append(numpy_helper.to_array(inits[conv.input[2]]) if len(conv.input) > 2
                          else np.zeros(k.shape[0], np.float32))
            widths.append(k.shape[0])
            dropped.add(id(conv))
        nodes += [
            helper.make_node("Concat", taps, [p + "/cols"], axis=1),
            helper.make_node("Transpose", [p + "/cols"], [p + "/nhwc"], perm=[0, 2, 3, 1]),
            helper.make_node("Reshape", [p + "/nhwc", const(p + "/rows", np.array([h * w, 9 * c], np.int64))],
                             [p + "/a"]),
            helper.make_node("MatMul", [p + "/a", const(p + "/w", np.concatenate(weights, 1).astype(np.float32))],
                             [p + "/mm"]),
            helper.make_node("Add", [p + "/mm", const(p + "/b", np.concatenate(biases).astype(np.float32))],
                             [p + "/y"]),
            helper.make_node("Reshape", [p + "/y", const(p + "/shape", np.array([1, h, w, sum(widths)], np.int64))],
                             [p + "/y4"]),
            helper.make_node("Transpose", [p + "/y4"], [p + "/nchw"] if len(convs) > 1 else [convs[0].output[0]],
                             perm=[0, 3, 1, 2])]
        if len(convs) > 1:
            nodes.append(helper.make_node("Split", [p + "/nchw", const(p + "/split", np.array(widths, np.int64))],
                                          [conv.output[0] for conv in convs], axis=1))
        replace[id(convs[0])] = nodes
    order = []
    for node in model.graph.node:
        order += replace.get(id(node), [])
        if id(node) not in dropped:
            order.append(node)
    del model.graph.node[:]
    model.graph.node.extend(order)
    used = {i for node in model.graph.node for i in node.input}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return sum(len(v) for v in groups.values())
