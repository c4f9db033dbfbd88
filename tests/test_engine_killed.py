"""`dt export --engine` killed between writing a new engine and its sidecar (`model_fp16.engine.json`) left the
new plan beside the previous build's sidecar, so `dt run` / `dt bench` would take the old build's metadata
(checkpoint, precision, ONNX sha256) for the new plan. The old sidecar is now replaced first by an unfinished one:
a killed build leaves an engine without a finished sidecar, refused by the runtime ('rebuild'), and the rerun
rebuilds it. TensorRT is stood in for."""

from __future__ import annotations

import json

import pytest

from droptrack.engine import trt_compat
from droptrack.engine.tensorrt_backend import sidecar_path
from droptrack.errors import BackendError


class Killed(BaseException):
    """A kill -9 at that point: nothing after it runs."""


def test_engine_killed_before_its_sidecar_is_never_paired_with_the_old_one(tiny_ckpt, tmp_path, monkeypatch):
    import droptrack.export.tensorrt as trt
    from droptrack.engine.tensorrt_backend import read_sidecar
    from droptrack.export.pipeline import export_onnx

    graph = export_onnx(tiny_ckpt, output_dir=tmp_path / "deploy").path
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda *a, **k: {"tensorrt": "10.3.0", "gpu": "Orin",
                                                                    "compute_capability": "8.7"})
    plans = iter([b"PLAN-1", b"PLAN-2", b"PLAN-3"])
    monkeypatch.setattr(trt, "_build_plan", lambda *a, **k: (next(plans), []))
    first = trt.build_engine(graph, workspace_gb=1.0, cache=tmp_path / "cache")
    engine, side = first.path, sidecar_path(first.path)
    assert engine.read_bytes() == b"PLAN-1" and json.loads(side.read_text())["cache_key"] == first.key

    write_json = trt.atomic_write_json

    def killed_at_the_sidecar(path, data):
        if path == side:
            raise Killed
        return write_json(path, data)

    monkeypatch.setattr(trt, "atomic_write_json", killed_at_the_sidecar)
    with pytest.raises(Killed):
        trt.build_engine(graph, workspace_gb=2.0, cache=tmp_path / "cache")   # another build: another plan
    assert engine.read_bytes() == b"PLAN-2"
    assert "cache_key" not in json.loads(side.read_text())   # not PLAN-1's sidecar, read as this plan's
    with pytest.raises(BackendError, match="has no sidecar"):
        read_sidecar(engine)
    monkeypatch.setattr(trt, "atomic_write_json", write_json)
    again = trt.build_engine(graph, workspace_gb=2.0, cache=tmp_path / "cache")   # the rerun
    assert json.loads(side.read_text())["cache_key"] == again.key != first.key
    assert json.loads(side.read_text())["workspace_bytes"] == 2 << 30
