"""Parameters and FLOPs per tracked frame of a model file: the two numbers efficient-tracker papers compare
(Params / FLOPs columns of UETrack's, SUTrack's and LightTrack's tables), printed by `dt doctor ARTIFACT`.

FLOPs count 2 per multiply-add of the matrix products and convolutions (what `torch.utils.flop_counter` and the
papers' profilers count; norms, softmax and activations are left out) for one target: one template crop and one
search crop. A checkpoint is measured by running the network once on blank crops under `FlopCounterMode` (candidate
elimination drops tokens, so the count follows the kept ones); an ONNX graph by ONNX shape inference over its
MatMul / Gemm / Conv nodes (their INT8 forms, ONNX Runtime's fused attention), without running it. An exported
graph counts a little more than its checkpoint: it ranks the CE tokens with its own centre-query . keys product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# op type -> (index of the input whose last dim is K / the weight, kind)
_MATMULS = {"MatMul": 0, "MatMulInteger": 0, "QLinearMatMul": 0}
_CONVS = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}
_ATTENTIONS = ("Attention", "QAttention")   # com.microsoft: (B, N, D) input, (D, 3D) packed q/k/v weight


@dataclass
class ModelCost:
    """Parameter count and FLOPs for one frame of one target (None: a shape the graph leaves unknown)."""

    params: int
    flops: int | None

    def text(self) -> str:
        """'92.7 M params, 48.3 GFLOPs per frame' (3 significant digits; GFLOPs '?' when unknown)."""
        gflops = "?" if self.flops is None else f"{self.flops / 1e9:.3g}"
        return f"{self.params / 1e6:.3g} M params, {gflops} GFLOPs per frame"


def torch_cost(model: "torch.nn.Module", template_size: int, search_size: int, **kwargs: object) -> ModelCost:
    """A torch tracker network's parameters (all of them, as papers count) and the FLOPs of one forward on blank
    (1,3,T,T) / (1,3,S,S) crops; `kwargs` go to the forward call (e.g. ce_template_mask)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in model.parameters())
    device = next(model.parameters()).device
    z = torch.zeros(1, 3, template_size, template_size, device=device)
    x = torch.zeros(1, 3, search_size, search_size, device=device)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(z, x, **kwargs)
    return ModelCost(params, int(counter.get_total_flops()))


def _dims(value_info) -> list[int] | None:
    """A tensor's static shape, None where a dim is symbolic or unknown."""
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    return None if any(d is None for d in dims) else dims


def _node_flops(node, shapes: dict[str, list[int] | None]) -> int | None:
    """2 x multiply-adds of one MatMul / Gemm / Conv node (also the integer and QLinear forms, and ONNX Runtime's
    fused Attention / QAttention); 0 for other ops."""
    out = shapes.get(node.output[0]) if node.output else None
    if node.op_type in _MATMULS:
        a = shapes.get(node.input[_MATMULS[node.op_type]])
        return None if out is None or not a else 2 * math.prod(out) * a[-1]
    if node.op_type == "Gemm":
        a = shapes.get(node.input[0])
        trans_a = any(at.name == "transA" and at.i for at in node.attribute)
        return None if out is None or not a or len(a) != 2 else 2 * math.prod(out) * a[0 if trans_a else 1]
    if node.op_type in _ATTENTIONS:   # ORT's fused block: QKV projection, then q.k^T and attn.v over all heads
        a, w = shapes.get(node.input[0]), shapes.get(node.input[1])
        if not a or not w or len(a) != 3:
            return None
        (b, n, d), qkv = a, w[-1]
        return 2 * b * n * d * qkv + 4 * b * n * n * (qkv // 3)
    if node.op_type in _CONVS:
        w = shapes.get(node.input[_CONVS[node.op_type]])
        return None if out is None or not w else 2 * math.prod(out) * math.prod(w[1:])
    return 0


def onnx_cost(path: str | Path) -> ModelCost:
    """An ONNX graph's parameters (elements of its initializers: the weights inference uses, as the export froze them,
    so not the checkpoint's count, which has unused ones such as the MAE pos_embed; model_ort.onnx's batch of crops
    holds a few constants once per crop) and FLOPs of one template and search pair by shape inference (a static
    batch's total divided by it; None when a MatMul / Gemm / Conv shape stays unknown, e.g. a dynamic batch)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    params = sum(math.prod(t.dims) for t in model.graph.initializer)
    try:
        inferred = onnx.shape_inference.infer_shapes(model).graph
    except (onnx.shape_inference.InferenceError, ValueError, RuntimeError):   # ONNX Runtime ran it; this is a report
        return ModelCost(params, None)
    shapes: dict[str, list[int] | None] = {t.name: list(t.dims) for t in inferred.initializer}
    for v in [*inferred.input, *inferred.value_info, *inferred.output]:
        shapes[v.name] = _dims(v)
    total: int | None = 0
    for node in inferred.node:
        f = _node_flops(node, shapes)
        total = None if f is None or total is None else total + f
    batch = (shapes.get("template") or [1])[0]   # model_ort.onnx: a frame's crops per call; by name, as graph.input
    return ModelCost(params, None if total is None else total // max(1, batch))   # may also list initializers
