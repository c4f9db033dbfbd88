"""`--device cuda:N` with a TensorRT engine on a machine whose GPUs differ (CPU: TensorRT and the GPUs faked).

`dt export --engine` builds on the first GPU CUDA shows it (TensorRT's current device, which droptrack never changes),
and records that GPU in the sidecar; an engine that does not fit cuda:N names the command that rebuilds it for cuda:N.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest
import torch

from droptrack.engine import trt_compat
from droptrack.engine.tensorrt_backend import TensorRTBackend, compat_problems, sidecar_path
from droptrack.errors import BackendError

GPUS = [{"gpu": "Orin", "compute_capability": "8.7"}, {"gpu": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"},
        {"gpu": "NVIDIA GeForce RTX 3060", "compute_capability": "8.6"}]


def visible_env(device: int = 0, with_driver: bool = True) -> dict:
    """runtime_env of a machine with GPUS, as CUDA numbers them under $CUDA_VISIBLE_DEVICES (read when called)."""
    import os

    visible = [int(v) for v in os.environ.get("CUDA_VISIBLE_DEVICES", "0,1,2").split(",")]
    return {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", **GPUS[visible[device]]}


def test_engine_refused_on_another_gpu_names_a_rebuild_for_that_gpu(onnx_model, tmp_path, monkeypatch):
    """`dt run model.engine --device cuda:1` where GPU 1 is another model than GPU 0: the refusal's rebuild command
    rebuilt for GPU 0 (where `dt export` builds), so running it and then the run again was refused again, without end.
    The command now makes GPU 1 the GPU it sees, and the engine it builds fits cuda:1."""
    from droptrack.export import tensorrt as trt_mod

    graph = tmp_path / "model.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", visible_env)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(GPUS))
    monkeypatch.setattr(trt_mod, "_build_plan", lambda *a, **k: (b"PLAN", []))
    engine = trt_mod.build_engine(graph, cache=tmp_path / "cache").path
    assert json.loads(sidecar_path(engine).read_text())["env"]["gpu"] == "Orin"        # built on GPU 0
    with pytest.raises(BackendError, match=r"GPU index 1 \(cuda:1\)") as exc:
        TensorRTBackend(engine, device="cuda:1")
    message = str(exc.value)
    assert "\n" not in message and "Orin (engine) vs NVIDIA GeForce RTX 4090 (here)" in message
    command = shlex.split(message.split("rebuild it on this machine: ")[1])
    assert command[0] == "CUDA_VISIBLE_DEVICES=1" and command[1:3] == ["dt", "export"] and "--engine" in command
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", command[0].split("=")[1])             # the command, as bash runs it
    trt_mod.build_engine(command[3], cache=tmp_path / "cache")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    built = json.loads(sidecar_path(engine).read_text())["env"]
    assert compat_problems(built, visible_env(1)) == [] and compat_problems(built, visible_env(0)) != []


def test_rebuild_command_for_cuda_n_names_the_physical_gpu(monkeypatch):
    """cuda:N counts the GPUs this process sees: under CUDA_VISIBLE_DEVICES=2,0 cuda:0 is GPU 2 and cuda:1 is GPU 0,
    the one the rebuild must see."""
    from droptrack.engine.tensorrt_backend import rebuild_on

    rebuild = "dt export model.onnx --engine --workspace 4"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert rebuild_on(0, rebuild) == rebuild and rebuild_on(2, rebuild) == f"CUDA_VISIBLE_DEVICES=2 {rebuild}"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    assert rebuild_on(1, rebuild) == f"CUDA_VISIBLE_DEVICES=0 {rebuild}"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-5f3a, GPU-77b1")
    assert re.fullmatch(r"CUDA_VISIBLE_DEVICES=GPU-77b1 dt export .*", rebuild_on(1, rebuild))
