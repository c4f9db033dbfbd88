"""benchmarks/head_im2col.py: the box head's 3x3 convs as im2col MatMuls compute the same function as ORT's Conv."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import benchmark_module


@pytest.fixture(scope="module")
def im2col():
    return benchmark_module("head_im2col")


class Head(torch.nn.Module):
    """Three branches reading one map (as the CENTER head's first convs), a second 3x3 conv, a 1x1 conv."""

    def __init__(self):
        super().__init__()
        self.first = torch.nn.ModuleList(torch.nn.Conv2d(12, o, 3, padding=1) for o in (8, 6, 4))
        self.second = torch.nn.Conv2d(8, 5, 3, padding=1, bias=False)
        self.point = torch.nn.Conv2d(6, 2, 1)

    def forward(self, x):
        a, b, c = (torch.relu(conv(x)) for conv in self.first)
        return self.second(a), self.point(b), c


def test_rewritten_head_matches_ort_conv_and_keeps_no_3x3_conv(im2col, tmp_path):
    import onnx
    import onnxruntime as ort

    torch.manual_seed(0)
    src, dst = tmp_path / "head.onnx", tmp_path / "head_im2col.onnx"
    x = torch.randn(1, 12, 7, 5)   # not square: rows and columns must not be swapped
    torch.onnx.export(Head().eval(), (x,), str(src), input_names=["x"], opset_version=17, dynamo=False)
    assert im2col.rewrite_head_convs(src, dst) == 4   # the three branches (one MatMul) and the second conv
    ops = [n.op_type for n in onnx.load(str(dst)).graph.node]
    assert ops.count("Conv") == 1 and ops.count("MatMul") == 2 and ops.count("Split") == 1   # the 1x1 conv stays
    feed = {"x": np.random.default_rng(1).standard_normal((1, 12, 7, 5)).astype(np.float32)}
    want = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, feed)
    got = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"]).run(None, feed)
    for w, g in zip(want, got):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
