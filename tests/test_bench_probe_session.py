"""dt bench's probe opens an ONNX Runtime session, not only the graph's metadata: reading the metadata alone is not
the same check. A graph whose droptrack metadata is sound but which ONNX Runtime cannot load (here an operator no
runtime has) must stay a 'failed' row with ORT's reason while the other rows run; read from the metadata alone it
passed the probe, and the checkpoint it names (absent) then refused the whole bench (exit 2)."""

from __future__ import annotations

import json

import pytest
import torch

from droptrack.config import load_config, meta_from_config
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint
from helpers import cli

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def unloadable_graph(path, meta) -> None:
    """template, search -> score/size/offset maps through an operator ONNX Runtime's own domain does not have
    (a custom domain is refused before any row: tests/test_bench_graph_nodes.py)."""
    from onnx import TensorProto, helper

    from droptrack.export.onnx import set_metadata

    t, s = meta.template_size, meta.search_size
    f = s // meta.stride
    ins = [helper.make_tensor_value_info("template", TensorProto.FLOAT, [1, 3, t, t]),
           helper.make_tensor_value_info("search", TensorProto.FLOAT, [1, 3, s, s])]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, c, f, f])
            for n, c in (("score_map", 1), ("size_map", 2), ("offset_map", 2))]
    node = helper.make_node("NoSuchOp", ["template", "search"], ["score_map", "size_map", "offset_map"],
                            domain="com.microsoft")
    model = helper.make_model(helper.make_graph([node], "g", ins, outs),
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    set_metadata(model, meta)
    onnx.save(model, str(path))


def test_a_graph_onnx_runtime_cannot_load_is_a_failed_row(tmp_path):
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    ckpt = save_checkpoint(tmp_path / "tiny.pt", build_model(cfg).eval(), cfg)
    graph = tmp_path / "odd.onnx"
    unloadable_graph(graph, meta_from_config(cfg, precision="fp32", checkpoint_sha256="ab" * 32))
    out = tmp_path / "out"
    r = cli("bench", ckpt, graph, "--sequences", "1", "--frames", "4", "--output", out, "--threads", "1")
    assert r.exit_code == 1, r.output   # a failed row, not a refused bench
    rows = {row["name"]: row for row in json.loads((out / "bench.json").read_text())["rows"]}
    assert rows["tiny"]["status"] == "passed", rows["tiny"]
    assert rows["odd"]["status"] == "failed" and "onnxruntime cannot load" in rows["odd"]["reason"], rows["odd"]
