"""`dt run -m model_int8_trt.onnx` on the CPU ran dt export's TensorRT INT8 graph in ONNX Runtime, which emulates its
Q/DQ nodes (on the tree.avi clip 12.8 FPS, as slow as FP32, where model_int8_ort.onnx ran at 68.8), without a word;
dt bench stars such a row. dt run now says so in one warning line, naming the graph for the CPU and the engine
command."""

from __future__ import annotations

import json

import pytest

from helpers import cli, drifting_clip

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def graph_marked(src, dst, precision: str, target: str | None) -> None:
    """dt export's FP32 graph with the metadata of another form (the fields dt export writes: droptrack.*, JSON)."""
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    props["droptrack.precision"] = json.dumps(precision)
    extra = json.loads(props.get("droptrack.extra", "{}"))
    if target is not None:
        extra["int8_target"] = target
    props["droptrack.extra"] = json.dumps(extra)
    del model.metadata_props[:]
    for k, v in props.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(dst))


def run(graph, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir(exist_ok=True)
    drifting_clip(frames, 3)
    r = cli("run", frames, "-m", graph, "--device", "cpu", "--init", "30,22,26,20", "-o", tmp_path / "b.txt",
            "--overwrite")
    assert r.exit_code == 0, r.output
    return [ln for ln in r.output.splitlines() if ln.startswith("warning: ")]


def test_the_tensorrt_int8_graph_on_the_cpu_gets_a_warning(tmp_path, tiny_fp32_export):
    graph = tmp_path / "model_int8_trt.onnx"
    graph_marked(tiny_fp32_export / "model.onnx", graph, "int8", "trt")
    (line,) = run(graph, tmp_path)
    assert "'model_int8_trt.onnx' is made for TensorRT" in line and "model_int8_ort.onnx" in line, line
    assert f"dt export {graph} --engine" in line, line


def test_the_onnx_runtime_int8_graph_gets_none(tmp_path, tiny_fp32_export):
    graph = tmp_path / "model_int8_ort.onnx"
    graph_marked(tiny_fp32_export / "model.onnx", graph, "int8", "ort")
    assert run(graph, tmp_path) == []
    assert run(tiny_fp32_export / "model.onnx", tmp_path) == []
