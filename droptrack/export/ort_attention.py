"""ONNX Runtime CPU graph pass: each plain ViT attention block as one com.microsoft.Attention node.

Why: in the INT8 graph for ORT's CPU kernels, the reshapes, transposes and gathers between the qkv projection and
the attention MatMuls run in FP32 at the same cost as in the FP32 graph and cap the INT8 speed-up. ORT's dynamic
quantizer turns a fused Attention node into QAttention (U8 input, S8 weights, one integer GEMM for q, k and v, then
the attention in FP32), which skips them (benchmarks/results/int8_cpu_avx2_dispatch). In FP32 the fused node is
the same arithmetic (bit-exact when the scale is a power of two), so the pass only changes speed.

Fused only where the pattern is exactly plain attention: qkv projection (Gemm, or MatMul with or without a bias
Add) -> Reshape [B, N, 3, H, D] -> Transpose (2, 0, 3, 1, 4) -> Gather 0/1/2 -> q * scale @ k^T -> Softmax -> @ v
-> Transpose (0, 2, 1, 3) -> Reshape, with no other reader of q, k, v or the probabilities. Candidate-elimination
blocks also read q and k for their token ranking, so they stay as they are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class _Graph:
    """Producer / consumer / constant lookups over one ONNX graph."""

    def __init__(self, graph) -> None:
        from onnx import numpy_helper

        self.g = graph
        self.prod = {o: n for n in graph.node for o in n.output}
        self.cons: dict[str, list] = {}
        for n in graph.node:
            for i in n.input:
                self.cons.setdefault(i, []).append(n)
        self.init = {i.name: i for i in graph.initializer}
        self.const = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}
        self._np = numpy_helper

    def value(self, name: str) -> np.ndarray | None:
        """A constant's value (initializer or Constant node), else None."""
        if name in self.init:
            return self._np.to_array(self.init[name])
        node = self.const.get(name)
        if node is not None:
            a = [x for x in node.attribute if x.name == "value"]
            return self._np.to_array(a[0].t) if a else None
        return None

    def only_reader(self, name: str, op_type: str):
        """The single node reading `name` when it is an `op_type`, else None."""
        readers = self.cons.get(name, [])
        return readers[0] if len(readers) == 1 and readers[0].op_type == op_type else None


def _gather_index(g: _Graph, node, axis: int) -> int | None:
    idx = g.value(node.input[1]) if node.op_type == "Gather" and _attrs(node).get("axis", 0) == axis else None
    return int(idx) if idx is not None and idx.ndim == 0 else None


# how q, k^T and v come out of the [B, N, 3, H, D] reshape: as exported (one Transpose (2, 0, 3, 1, 4), Gathers on
# axis 0, k transposed after), or after ORT's pre-processing (Gathers on axis 2, each with its own Transpose)
_ROLE = {"q": (0, None, [0, 2, 1, 3]), "kT": (1, [0, 1, 3, 2], [0, 2, 3, 1]), "v": (2, None, [0, 2, 1, 3])}


def _qkv_source(g: _Graph, name: str, role: str) -> tuple[str, int] | None:
    """(the 5-D reshape's output, q/k/v index) that tensor `name` is sliced from, when only this path reads it."""
    index, after_gather, per_gather = _ROLE[role]
    node = g.prod.get(name)
    if node is None or len(g.cons.get(name, [])) != 1:
        return None
    if node.op_type == "Transpose" and _attrs(node).get("perm") == per_gather:     # pre-processed layout
        gather = g.prod.get(node.input[0])
        if gather is not None and _gather_index(g, gather, 2) == index and len(g.cons[gather.output[0]]) == 1:
            return gather.input[0], index
    if after_gather is not None:                                                 # exported layout, k^T
        if node.op_type != "Transpose" or _attrs(node).get("perm") != after_gather:
            return None
        node = g.prod.get(node.input[0])
        if node is None or len(g.cons.get(node.output[0], [])) != 1:
            return None
    if node.op_type != "Gather" or _gather_index(g, node, 0) != index:
        return None
    tr = g.prod.get(node.input[0])
    if tr is None or tr.op_type != "Transpose" or _attrs(tr).get("perm") != [2, 0, 3, 1, 4]:
        return None
    return (tr.input[0], index) if len(g.cons.get(tr.output[0], [])) == 3 else None


def _projection(g: _Graph, name: str):
    """(3-D input, W [C, 3C], bias [3C]) of the qkv projection producing `name`, else None."""
    node = g.prod.get(name)
    if node is None:
        return None
    if node.op_type == "Reshape":                      # ORT pre-processing: Reshape(3-D -> 2-D) -> Gemm -> Reshape
        node = g.prod.get(node.input[0])
        if node is None or node.op_type != "Gemm":
            return None
    if node.op_type == "Gemm":
        a = _attrs(node)
        w = g.value(node.input[1])
        if w is None or a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            return None
        w = w.T if a.get("transB", 0) else w
        b = g.value(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(w.shape[1], w.dtype)
        before = g.prod.get(node.input[0])
        if before is None or before.op_type != "Reshape" or b is None:
            return None
        return before.input[0], w, b
    bias = None
    if node.op_type == "Add":
        consts = [(i, g.value(i)) for i in node.input]
        const = [(i, v) for i, v in consts if v is not None]
        if len(const) != 1:
            return None
        bias = const[0][1]
        node = g.prod.get(next(i for i in node.input if i != const[0][0]))
        if node is None:
            return None
    if node.op_type != "MatMul":
        return None
    w = g.value(node.input[1])
    if w is None or w.ndim != 2:
        return None
    return node.input[0], w, np.zeros(w.shape[1], w.dtype) if bias is None else bias


def _match(g: _Graph, softmax):
    """The pieces of one plain attention block around `softmax`, else None."""
    qk = g.prod.get(softmax.input[0])
    av = g.only_reader(softmax.output[0], "MatMul")
    if qk is None or qk.op_type != "MatMul" or av is None or av.input[0] != softmax.output[0]:
        return None
    if _attrs(softmax).get("axis", -1) not in (-1, 3):
        return None
    scaled = g.prod.get(qk.input[0])
    if scaled is None or scaled.op_type != "Mul" or len(g.cons.get(scaled.output[0], [])) != 1:
        return None
    scale = [g.value(i) for i in scaled.input]
    q_name = [i for i, v in zip(scaled.input, scale) if v is None]
    scale = [v for v in scale if v is not None]
    if len(q_name) != 1 or len(scale) != 1 or scale[0].size != 1:
        return None
    src = [_qkv_source(g, q_name[0], "q"), _qkv_source(g, qk.input[1], "kT"), _qkv_source(g, av.input[1], "v")]
    if any(x is None for x in src) or len({x[0] for x in src}) != 1:
        return None
    r5 = g.prod.get(src[0][0])
    shape = g.value(r5.input[1]) if r5 is not None and r5.op_type == "Reshape" else None
    if shape is None or shape.size != 5 or int(shape[2]) != 3:
        return None
    heads, head_dim = int(shape[3]), int(shape[4])
    back = g.only_reader(av.output[0], "Transpose")
    out = g.only_reader(back.output[0], "Reshape") if back is not None else None
    if back is None or out is None or _attrs(back).get("perm") != [0, 2, 1, 3]:
        return None
    proj = _projection(g, r5.input[0])
    if proj is None or heads <= 0 or head_dim <= 0 or proj[1].shape[1] != 3 * heads * head_dim:
        return None
    return {"input": proj[0], "w": proj[1], "b": proj[2], "heads": heads, "scale": float(scale[0].reshape(())),
            "out": out, "name": (g.prod.get(r5.input[0]) or r5).name}


def fuse_attention(model) -> int:
    """Rewrite each plain attention block of `model` (in place) as one com.microsoft.Attention node; returns how
    many were fused. Unused nodes and initializers are dropped."""
    from onnx import helper, numpy_helper

    g = _Graph(model.graph)
    matches = [m for m in (_match(g, n) for n in model.graph.node if n.op_type == "Softmax") if m is not None]
    for m in matches:
        base = m["out"].name
        w, b = f"{base}/fused_qkv_weight", f"{base}/fused_qkv_bias"
        model.graph.initializer.extend([numpy_helper.from_array(np.ascontiguousarray(m["w"], np.float32), w),
                                        numpy_helper.from_array(np.ascontiguousarray(m["b"], np.float32), b)])
        fused = f"{base}/fused_attention_output"
        # named after the qkv projection it replaces: layer groups and kept-node lists find it by that name
        node = helper.make_node("Attention", [m["input"], w, b], [fused], name=m["name"], domain="com.microsoft",
                                num_heads=m["heads"], scale=m["scale"])
        model.graph.node.insert(list(model.graph.node).index(m["out"]), node)
        m["out"].input[0] = fused
    if matches:
        _prune(model)
        if not any(o.domain == "com.microsoft" for o in model.opset_import):
            model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return len(matches)


def _prune(model) -> None:
    """Drop nodes no graph output depends on, then initializers no node reads."""
    need = {o.name for o in model.graph.output}
    keep = []
    for n in reversed(list(model.graph.node)):
        if any(o in need for o in n.output):
            keep.append(n)
            need.update(i for i in n.input if i)
    del model.graph.node[:]
    model.graph.node.extend(reversed(keep))
    used = {i for n in model.graph.node for i in n.input}
    inits = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)


def fuse_attention_file(src: Path, dst: Path) -> int:
    """`fuse_attention` from file to file (weights inline; ViT-B graphs stay under protobuf's 2 GB)."""
    import onnx

    model = onnx.load(str(src))
    n = fuse_attention(model)
    onnx.save(model, str(dst))
    return n
