"""Params and FLOPs per frame (the columns efficient-tracker tables compare), counted 2 per multiply-add of the
matrix products and convolutions: hand-built graphs and modules against hand-computed counts, a checkpoint and its
exported graph against each other (FlopCounterMode vs ONNX shape inference), and the line dt doctor prints."""

from __future__ import annotations

import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from droptrack.engine.model_cost import ModelCost, onnx_cost, torch_cost
from helpers import cli


def _init(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(torch.zeros(shape).numpy(), name)


def test_onnx_graph_counts_by_hand(tmp_path):
    nodes = [helper.make_node("MatMul", ["a", "B"], ["ab"]),                        # (1,4,8)@(8,16)
             helper.make_node("Conv", ["img", "W", "bias"], ["c"]),                 # 5 filters 3x3x3 on 8x8
             helper.make_node("Gemm", ["g", "G"], ["gg"], transB=1),                 # (2,8)@(6,8)^T
             helper.make_node("Attention", ["t", "QKV", "qkv_b"], ["att"], domain="com.microsoft", num_heads=2)]
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4, 8]),
              helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 3, 8, 8]),
              helper.make_tensor_value_info("g", TensorProto.FLOAT, [2, 8]),
              helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 10, 8])]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("ab", "c", "gg", "att")]
    inits = [_init("B", 8, 16), _init("W", 5, 3, 3, 3), _init("bias", 5), _init("G", 6, 8), _init("QKV", 8, 24),
             _init("qkv_b", 24)]
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    onnx.save(model, tmp_path / "m.onnx")
    matmul = 2 * 4 * 16 * 8
    conv = 2 * (5 * 6 * 6) * (3 * 3 * 3)
    gemm = 2 * (2 * 6) * 8
    attention = 2 * 10 * 8 * 24 + 2 * (2 * 10 * 10 * 8)   # q/k/v projection, then q.k^T and attn.v (8 = 2 heads x 4)
    assert onnx_cost(tmp_path / "m.onnx") == ModelCost(128 + 135 + 5 + 48 + 192 + 24,
                                                        matmul + conv + gemm + attention)


def test_an_unknown_shape_leaves_the_flops_unknown(tmp_path):
    node = helper.make_node("MatMul", ["a", "B"], ["ab"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4, 8])],
                              [helper.make_tensor_value_info("ab", TensorProto.FLOAT, None)], [_init("B", 8, 16)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    cost = onnx_cost(tmp_path / "m.onnx")
    assert cost == ModelCost(128, None) and cost.text() == "0.000128 M params, ? GFLOPs per frame"


class _TwoCrops(torch.nn.Module):
    """A conv on the template, a linear layer on the flattened search crop."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 5, 3)
        self.fc = torch.nn.Linear(48, 6)

    def forward(self, z, x, scale=1.0):
        return self.conv(z).sum() + self.fc(x.flatten(1)).sum() * scale


def test_torch_module_counts_by_hand():
    cost = torch_cost(_TwoCrops(), template_size=8, search_size=4, scale=2.0)
    assert cost == ModelCost(135 + 5 + 288 + 6, 2 * (5 * 6 * 6) * 27 + 2 * 48 * 6)


def test_a_checkpoint_and_its_graph_count_the_same_flops_but_the_ce_ranking(tiny_ckpt, onnx_model):
    from droptrack.engine.torch_backend import TorchBackend

    with TorchBackend.from_checkpoint(tiny_ckpt, device="cpu") as be:
        m = be.meta
        ckpt = torch_cost(be.model, m.template_size, m.search_size, ce_template_mask=be.model.template_index)
    graph = onnx_cost(onnx_model)
    # tiny_ce_test: dim 64, 16 template + 64 search tokens, CE at blocks 1 and 2 keeps ceil(0.7 x 64) = 45 search
    # tokens, then 32. The graph ranks tokens with its own centre-query . keys product (80, then 61 keys); the torch
    # model reads the ranking off the attention it already computed. All the rest counts the same.
    assert ckpt.flops > 0 and graph.flops - ckpt.flops == 2 * 64 * (80 + 61)


@pytest.mark.parametrize("which", ["checkpoint", "graph"])
def test_doctor_prints_the_size_line(tiny_ckpt, onnx_model, which):
    path = tiny_ckpt if which == "checkpoint" else onnx_model
    r = cli("doctor", path)
    assert r.exit_code == 0, r.output
    line = next(ln for ln in r.output.splitlines() if "GFLOPs per frame" in ln)
    gflops = 0.0464 if which == "checkpoint" else 0.0465       # the graph's CE ranking product (test above)
    assert line.startswith(f"ok: {path.name}: ") and f" M params, {gflops} GFLOPs per frame" in line



def _matmul(path, data: str, batch: int, weight_first: bool) -> None:
    """(batch,4,8) input `data` @ (8,16) weight B, with B also listed as a graph input (first or last)."""
    x = helper.make_tensor_value_info(data, TensorProto.FLOAT, [batch, 4, 8])
    w = helper.make_tensor_value_info("B", TensorProto.FLOAT, [8, 16])   # as keep_initializers_as_inputs lists it
    out = helper.make_tensor_value_info("ab", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("MatMul", [data, "B"], ["ab"])], "g",
                              [w, x] if weight_first else [x, w], [out], [_init("B", 8, 16)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_the_flops_are_one_template_inputs_share(tmp_path):
    # a static batch of crops (model_ort.onnx) counts once per pair: the batch of the input named template, not of
    # whatever graph.input lists first
    _matmul(tmp_path / "t.onnx", "template", 2, weight_first=True)
    assert onnx_cost(tmp_path / "t.onnx").flops == 2 * 4 * 16 * 8   # one of the 2 items
    _matmul(tmp_path / "a.onnx", "a", 3, weight_first=False)
    assert onnx_cost(tmp_path / "a.onnx").flops == 2 * 3 * 4 * 16 * 8   # no template input: the whole call
