"""`dt doctor` compared an engine with GPU 0 only: on a machine with two GPUs (or CUDA_VISIBLE_DEVICES leaving two), an
engine built for the second read 'does not fit here' (exit 1) though `dt run --device cuda:1` runs it, and the GPUs
were not listed. It now lists every visible GPU and checks the engine against each. TensorRT and the GPUs are
tests/fake_tensorrt.py's stand-ins (no GPU here)."""

from __future__ import annotations

import pytest

from fake_tensorrt import GPU_ENV, FakeTRT, install
from helpers import cli

pytestmark = pytest.mark.usefixtures("one_thread")
RTX = {**GPU_ENV, "gpu": "RTX 4090", "compute_capability": "8.9"}


@pytest.fixture
def tensorrt_here(monkeypatch, tmp_path) -> FakeTRT:
    return install(monkeypatch, tmp_path / "cache")


def _engine(onnx_model, tmp_path):
    from droptrack.export.tensorrt import build_engine

    graph = tmp_path / "model_fp16.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    return build_engine(graph, cache=tmp_path / "cache").path   # built on GPU_ENV: Orin, sm 8.7


def _gpus(monkeypatch, *envs):
    from droptrack.engine import trt_compat

    monkeypatch.setattr(trt_compat, "gpu_count", lambda: len(envs))
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(envs[device]))


def test_an_engine_for_the_second_gpu_fits_it(onnx_model, tmp_path, tensorrt_here, monkeypatch):
    engine = _engine(onnx_model, tmp_path)
    _gpus(monkeypatch, RTX, GPU_ENV)
    r = cli("doctor", engine)
    text = " ".join(r.output.split())
    assert r.exit_code == 0, r.output
    assert "cuda:0 RTX 4090 (sm 8.9), cuda:1 Orin (sm 8.7)" in text
    assert "ok: model_fp16.engine: fp32 engine built with TensorRT 10.3.0 on Orin (sm 8.7); matches cuda:1 (dt run " \
           "--device cuda:1)" in text
    assert "warn: model_fp16.engine does not fit cuda:0 (GPU Orin (engine) vs RTX 4090 (here); compute capability " \
           "8.7 (engine) vs 8.9 (here)): rebuild for it: dt export " in text


def test_an_engine_that_fits_no_gpu_is_an_error_naming_each(onnx_model, tmp_path, tensorrt_here, monkeypatch):
    engine = _engine(onnx_model, tmp_path)
    _gpus(monkeypatch, RTX, RTX)
    r = cli("doctor", engine)
    text = " ".join(r.output.split())
    assert r.exit_code == 1, r.output
    assert "fits none of the 2 GPUs here: cuda:0 (GPU Orin (engine) vs RTX 4090 (here)" in text
    assert "cuda:1 (GPU Orin (engine) vs RTX 4090 (here); compute capability 8.7 (engine) vs 8.9 (here)): rebuild " \
           "for it: CUDA_VISIBLE_DEVICES=1 dt export " in text
