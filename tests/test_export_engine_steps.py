"""`dt export --engine` when a built engine cannot be checked: loading it for the parity check or the parity run
fails (a plan TensorRT refuses, GPU memory taken by another process). That ended the whole export: the other engines
were not built, the summary table was not printed, the unverified engine stayed under its final name, and a CUDA
error was a traceback. The engine build runs against tests/fake_tensorrt.py (no GPU here); the engine is loaded by a
stand-in for TensorRTBackend."""

from __future__ import annotations

import sys

import pytest
import torch

from droptrack.errors import BackendError
from fake_tensorrt import FakeTRT, GraphAsEngine
from helpers import cli

pytestmark = pytest.mark.usefixtures("one_thread")
ENV = {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"}
REFUSED = ("TensorRT could not deserialize the engine (built by another TensorRT version or for another GPU, or a "
           "version-compatible engine that carries code, which is not run); rebuild it")
OOM = "CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 7.44 GiB"


class Engine(GraphAsEngine):
    """Stands in for TensorRTBackend: the FP16 engine fails as `fails` says; another answers as the FP32 graph."""

    fails = ""

    def __init__(self, path, *a, **k):
        self.fp16 = path.name.startswith("model_fp16.engine")   # built as model_fp16.engine.unchecked
        if self.fp16 and self.fails == "load":
            raise BackendError(REFUSED)
        super().__init__(path)

    def infer(self, template, search):
        if self.fp16 and self.fails == "parity run":
            raise torch.cuda.OutOfMemoryError(OOM + "\nIf reserved but unallocated memory is large ...")
        return self.graph.infer(template, search)


@pytest.fixture
def tensorrt_here(monkeypatch, tmp_path) -> FakeTRT:
    """The stand-in TensorRT with a GPU, an engine cache in tmp_path, and engines loaded by `Engine`."""
    from droptrack.engine import tensorrt_backend, trt_compat

    fake = FakeTRT()
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module())
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(ENV))
    monkeypatch.setattr(tensorrt_backend, "TensorRTBackend", Engine)
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache"))
    return fake


def test_safetensors_with_engine_builds_the_graphs_engine_only(tiny, tmp_path, tensorrt_here):
    """`dt export --safetensors --engine` took model.safetensors for a graph to build an engine of: 'not a readable
    ONNX file', exit 2, no engine."""
    out = tmp_path / "out"
    r = cli("export", tiny[0], "--safetensors", "--engine", "-o", out)
    assert r.exit_code == 0, r.output
    assert (out / "model.engine").read_bytes() == b"PLAN" and len(tensorrt_here.built) == 1
    assert (out / "model.safetensors").is_file() and not (out / "model.engine.failed").exists()


@pytest.mark.parametrize("step, reason", [("load", REFUSED), ("parity run", OOM)])
def test_an_engine_that_cannot_be_checked_fails_alone_and_is_kept_aside(tiny, tmp_path, monkeypatch, tensorrt_here,
                                                                        step, reason):
    fake = tensorrt_here
    monkeypatch.setattr(Engine, "fails", step)
    out = tmp_path / "out"
    r = cli("export", tiny[0], "--fp16", "--int8", "--int8-target", "trt", "--calib-pairs", 8, "--engine", "-o", out)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert len(fake.built) == 2 and (out / "model_int8_trt.engine").read_bytes() == b"PLAN"   # the other engine
    assert all((out / n).is_file() for n in ("model.onnx", "model_fp16.onnx", "model_int8_trt.onnx"))
    assert not (out / "model_fp16.engine").exists() and not (out / "model_fp16.engine.json").exists()
    assert (out / "model_fp16.engine.failed").read_bytes() == b"PLAN"                    # the build is kept
    assert (out / "model_fp16.engine.failed.json").is_file()
    lines = r.output.splitlines()
    rows = {ln.split()[1][:8]: ln for ln in lines if ln.startswith("│ model_") and ".en" in ln}   # names cut to fit
    assert f"FAILED ({step})" in rows["model_fp"] and " ok " in rows["model_in"], r.output
    assert f"note: model_fp16.engine: {step} failed: {reason}" in lines, r.output
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], r.output
    assert f"engine check failed: model_fp16.engine ({step} failed: {reason})" in errors[0]
    assert "model_int8_trt.engine" not in errors[0]
