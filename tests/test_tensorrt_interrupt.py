"""Ctrl-C while TensorRT runs C++ that logs through droptrack's Python logger (tests/fake_tensorrt.py): Python runs the
SIGINT handler in the first log call, TensorRT's binding prints and drops the KeyboardInterrupt raised there, and the
work went on as if no Ctrl-C had come. Builder, parser and runtime creation start CUDA and log; so do execution
context creation and an enqueue. Each now ends in one KeyboardInterrupt (the CLI's exit 130)."""

from __future__ import annotations

import signal
import sys

import pytest

from droptrack.engine import trt_compat
from fake_tensorrt import FakeTRT
from helpers import cli

pytestmark = pytest.mark.usefixtures("python_sigint")   # Python's own SIGINT handler: conftest.py
ENV = {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"}


@pytest.mark.parametrize("where", ["Builder:log", "OnnxParser:log"])
def test_ctrl_c_while_the_builder_or_parser_is_made_stops_the_build(monkeypatch, tmp_path, where):
    from droptrack.export.tensorrt import _build_plan

    fake = FakeTRT(sigint_in=where)
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module())
    with pytest.raises(KeyboardInterrupt):
        _build_plan(tmp_path / "model.onnx", "fp32", "strong", 1 << 30, tmp_path / "cache", ENV, lambda s: None)
    assert fake.built == [] and fake.sigint_in == ""      # the signal came, and no build was started after it
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("where", ["Runtime:log", "context:log", "execute:log"])
def test_ctrl_c_while_an_engine_loads_or_runs_is_raised(where):
    """Engine load (runtime creation, execution context) and one inference, as TensorRTBackend and the parity check
    of `dt export --engine` and `dt bench` make them."""
    fake = FakeTRT(sigint_in=where)
    trt = fake.module()
    logger = trt_compat.logger(trt)
    with pytest.raises(KeyboardInterrupt):
        _runtime, engine = trt_compat.deserialize(trt, b"PLAN", logger)
        context = trt_compat.execution_context(engine)
        trt_compat.enqueue(context, {"template": 512}, 0)
        pytest.fail("the Ctrl-C was dropped")
    assert fake.sigint_in == "" and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_while_the_engine_inspector_runs_is_raised(tmp_path, monkeypatch):
    """benchmarks/gpu_check.py's inspector step (engine.inspect): its log calls dropped a Ctrl-C too."""
    import contextlib

    import torch

    from droptrack.engine.inspect import engine_layer_info

    fake = FakeTRT(sigint_in="inspector:log")
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module())
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(torch.cuda, "device", lambda index: contextlib.nullcontext())   # no GPU here
    (tmp_path / "model.engine").write_bytes(b"PLAN")
    with pytest.raises(KeyboardInterrupt):
        engine_layer_info(tmp_path / "model.engine")
    fake.sigint_in = ""
    assert engine_layer_info(tmp_path / "model.engine") == {"Layers": [], "Bindings": []}


def test_a_run_loops_own_handler_runs_after_an_enqueue_not_inside_it():
    """`dt run` installs a handler that stops after the current frame (and raises on a second Ctrl-C): it ran inside
    TensorRT's log call, where what it raises is dropped; now once the enqueue has returned."""
    fake = FakeTRT(sigint_in="execute:log")
    trt = fake.module()
    _runtime, engine = trt_compat.deserialize(trt, b"PLAN", trt_compat.logger(trt))
    context = engine.create_execution_context()
    seen = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: seen.append((signum, context.ran)))
    try:
        trt_compat.enqueue(context, {"template": 512}, 0)
    finally:
        signal.signal(signal.SIGINT, old)
    assert seen == [(signal.SIGINT, 1)]   # called once, after the enqueue ran


def test_dt_export_engine_stopped_while_cuda_starts_exits_130_in_one_line(onnx_model, tmp_path, monkeypatch):
    """`dt export GRAPH.onnx --engine` with Ctrl-C while trt.Builder starts CUDA: the build ran to its end (the
    Ctrl-C lost) and the engine was written; now exit 130, one line, no engine, no temporary file."""
    graph = tmp_path / "model.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    fake = FakeTRT(sigint_in="Builder:log")
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module())
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(ENV))
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache"))
    r = cli("export", graph, "--engine")
    assert r.exit_code == 130 and "Traceback" not in r.output, r.output
    assert [ln for ln in r.output.splitlines() if ln.strip()][-1].startswith("interrupted")
    assert fake.built == [] and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
