"""A graph input or output without an element type (an untyped graph) reached ONNX Runtime, whose error named no
tensor ('Invalid tensor data type 0'): dt run (exit 2) and dt doctor (since then bad input too, exit 2) now name the
tensor in one line."""

from __future__ import annotations

import onnx
import pytest
from helpers import cli, one_line_error

INIT = "60,40,40,50"


@pytest.mark.parametrize("where, name", [("input", "template"), ("output", "score_map")])
def test_an_untyped_tensor_is_named_by_dt_run_and_dt_doctor(onnx_model, tmp_path, video, where, name):
    model = onnx.load(str(onnx_model))
    tensor = next(t for t in getattr(model.graph, where) if t.name == name)
    tensor.type.tensor_type.elem_type = onnx.TensorProto.UNDEFINED
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    expected = (f"{where} '{name}' of model.onnx declares no element type (a damaged or hand-edited graph); export "
                "the tracker again with `dt export CHECKPOINT`, or give it its type "
                "(onnx.helper.make_tensor_value_info(NAME, TensorProto.FLOAT, SHAPE))")   # as dt export --engine's
    line = one_line_error(cli("run", video, "-m", path, "--device", "cpu", "--init", INIT, "--output",
                              tmp_path / "b.txt"))
    assert line == f"error: {expected}"
    assert not (tmp_path / "b.txt").exists()
    doctor = cli("doctor", path)   # the graph's own fault: bad input as for dt run (it was a failed check, exit 1)
    assert one_line_error(doctor) == f"error: {expected}"
