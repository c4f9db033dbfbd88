"""`dt export -o DIR` replaced a model.onnx in DIR that no dt export wrote (another tool's graph, a hand-edited one,
any file of that name) without a word; such a file is now refused before any work, left as it was."""

from __future__ import annotations

import shutil

import pytest

from helpers import cli, one_line_error

onnx = pytest.importorskip("onnx")


def other_tools_graph(path) -> bytes:
    """A valid one-node ONNX graph (Identity) without droptrack's metadata, as another exporter writes one."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "other", [x], [y])
    onnx.save(helper.make_model(graph, producer_name="another-exporter"), str(path))
    return path.read_bytes()


def test_a_graph_no_dt_export_wrote_is_refused_and_kept(tmp_path, tiny_ckpt):
    out = tmp_path / "deploy"
    out.mkdir()
    before = other_tools_graph(out / "model.onnx")
    r = cli("export", tiny_ckpt, "-o", out)
    assert r.exit_code == 2, r.output
    line = one_line_error(r)
    assert "holds 'model.onnx'" in line and "no dt export wrote it" in line, line
    assert (out / "model.onnx").read_bytes() == before
    (out / "model.onnx").write_text("notes, not a graph\n")
    assert "no dt export wrote it" in one_line_error(cli("export", tiny_ckpt, "-o", out))
    assert (out / "model.onnx").read_text() == "notes, not a graph\n"


def test_a_graph_only_asked_precisions_write_is_not_checked(tmp_path, tiny_ckpt, tiny_fp32_export):
    out = tmp_path / "deploy"
    shutil.copytree(tiny_fp32_export, out)   # an earlier dt export's model.onnx: replaced as before
    before = other_tools_graph(out / "model_fp16.onnx")   # not written by an FP32-only export: left alone
    r = cli("export", tiny_ckpt, "-o", out)
    assert r.exit_code == 0, r.output
    assert (out / "model_fp16.onnx").read_bytes() == before


def test_weights_no_dt_export_wrote_are_refused_and_kept(tmp_path, tiny_ckpt):
    out = tmp_path / "deploy"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}              ")   # empty header
    before = (out / "model.safetensors").read_bytes()
    line = one_line_error(cli("export", tiny_ckpt, "--safetensors", "-o", out))
    assert "holds 'model.safetensors'" in line and "no dt export wrote it" in line, line
    assert (out / "model.safetensors").read_bytes() == before
    assert cli("export", tiny_ckpt, "-o", out).exit_code == 0   # without --safetensors it is not written: kept
    assert (out / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize("target", ["trt", "ort"])
def test_a_search_report_no_dt_export_wrote_is_refused_and_kept(tmp_path, tiny_ckpt, target):
    """auto_precision_<target>.json is written by --auto-precision and removed by an --int8 export without it: a
    user's file of that name was deleted (or replaced) without a word, and a checkpoint given under that name was
    deleted by its own export."""
    out = tmp_path / "deploy"
    out.mkdir()
    (out / f"auto_precision_{target}.json").write_text('{"my": "notes"}\n')
    line = one_line_error(cli("export", tiny_ckpt, "-o", out, "--int8", "--int8-target", target))
    assert f"holds 'auto_precision_{target}.json', which this export writes or removes" in line, line
    assert (out / f"auto_precision_{target}.json").read_text() == '{"my": "notes"}\n'
    shutil.copyfile(tiny_ckpt, out / f"auto_precision_{target}.json")   # the checkpoint itself, named so
    before = (out / f"auto_precision_{target}.json").read_bytes()
    one_line_error(cli("export", out / f"auto_precision_{target}.json", "-o", out, "--int8", "--int8-target", target))
    assert (out / f"auto_precision_{target}.json").read_bytes() == before
