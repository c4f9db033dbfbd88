"""Export, TensorRT engines: the build cache key, the cache flow and sidecar with the build stubbed (CPU), and the
real builds (marked `gpu`, skipped without TensorRT + CUDA).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from droptrack.artifact import sha256_file
from droptrack.errors import BackendError
from droptrack.export import ce_parity as ce
from droptrack.export import pairs as pairs_mod
from droptrack.export import parity as par
from helpers import cli, one_line_error

pytestmark = pytest.mark.usefixtures("one_thread")


def test_engine_cache_key_changes_with_every_input():
    from droptrack.export.tensorrt import BUILD_RECIPE, engine_cache_key

    base = dict(onnx_sha256="a" * 64, precision="fp16",
                env={"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"},
                io_shapes={"template": {"shape": [1, 3, 192, 192]}}, meta={"config_name": "x"},
                workspace_bytes=1 << 32, typing="strong")
    key = engine_cache_key(**base)
    assert key == engine_cache_key(**json.loads(json.dumps(base))) == engine_cache_key(**base, recipe=BUILD_RECIPE)
    variants = [("onnx_sha256", "b" * 64), ("precision", "int8"), ("io_shapes", {"template": {"shape": [1, 3, 128, 128]}}),
                ("meta", {"config_name": "y"}), ("workspace_bytes", 1 << 30), ("typing", "flags"),
                ("recipe", BUILD_RECIPE + 1)]   # droptrack's builder settings changed
    variants += [("env", {**base["env"], k: v}) for k, v in
                 (("tensorrt", "11.4.1"), ("cuda", "13.0"), ("driver", "580.1"), ("gpu", "RTX 4090"),
                  ("compute_capability", "8.9"))]
    keys = {engine_cache_key(**{**base, k: v}) for k, v in variants}
    assert key not in keys and len(keys) == len(variants)


def test_engine_build_cache_and_refusal_without_tensorrt(exported, tmp_path, monkeypatch):
    """Cache flow and sidecar with the TensorRT build stubbed out (the real build is the gpu test below)."""
    from droptrack.engine import trt_compat
    from droptrack.engine.tensorrt_backend import TensorRTBackend, compat_problems, sidecar_path
    from droptrack.export import tensorrt as trt_mod

    onnx_path = tmp_path / "model_fp16.onnx"
    onnx_path.write_bytes((exported[0] / "model_fp16.onnx").read_bytes())
    env = {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"}
    builds = []
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(env))
    monkeypatch.setattr(trt_mod, "_build_plan", lambda *a, **k: (builds.append(a) or b"PLAN", ["stub"]))
    cache = tmp_path / "cache"
    first = trt_mod.build_engine(onnx_path, cache=cache)
    again = trt_mod.build_engine(onnx_path, cache=cache)
    assert not first.reused and again.reused and len(builds) == 1 and first.path.read_bytes() == b"PLAN"
    side = json.loads(sidecar_path(first.path).read_text())
    assert side["env"] == env and side["onnx_sha256"] == sha256_file(onnx_path) and side["precision"] == "fp16"
    assert side["io"]["template"]["shape"] == [1, 3, 64, 64] and side["meta"]["config_name"] == "tiny_ce_test"
    assert side["rebuild_command"].startswith(f"dt export {onnx_path} --engine")
    trt_mod.build_engine(onnx_path, cache=cache, workspace_gb=1.0)       # any change rebuilds
    assert len(builds) == 2
    first.path.unlink()
    assert trt_mod.build_engine(onnx_path, cache=cache).reused              # from the cache folder
    assert len(builds) == 2
    other = {**env, "gpu": "RTX 4090", "compute_capability": "8.9"}
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(other))
    with pytest.raises(BackendError, match="rebuild it on this machine: dt export .*--engine") as exc:
        TensorRTBackend(first.path)
    assert "Orin" in str(exc.value) and "RTX 4090" in str(exc.value)
    assert compat_problems(env, env) == []
    r = cli("doctor", first.path)
    assert r.exit_code == 1 and "rebuild" in r.output


# ---------------------------------------------------------------- TensorRT (GPU machines only)


def _needs_trt():
    from droptrack.engine.trt_compat import unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)


def _engine_from(exported, tmp_path, name: str):
    """Copy one exported ONNX file into tmp_path and build its engine there (skips without TensorRT)."""
    _needs_trt()
    from droptrack.export.tensorrt import build_engine

    src = tmp_path / name
    src.write_bytes((exported[0] / name).read_bytes())
    return src, build_engine(src, cache=tmp_path / "cache")


@pytest.mark.gpu
def test_tensorrt_engine_builds_runs_and_caches(exported, tmp_path):
    from droptrack.engine.tensorrt_backend import TensorRTBackend
    from droptrack.export.tensorrt import build_engine

    src, first = _engine_from(exported, tmp_path, "model_fp16.onnx")
    assert not first.reused and build_engine(src, cache=tmp_path / "cache").reused
    with TensorRTBackend(first.path) as be:
        pairs = pairs_mod.real_pairs(be.meta, 2)
        ref = ce.ort_outputs(src, pairs)
        for p, r in zip(pairs, ref):
            out = be.infer(p.template, p.search)                        # numpy in, numpy out
            assert isinstance(out["score_map"], np.ndarray) and np.isfinite(out["offset_map"]).all()
            a, b = out["score_map"].ravel().astype(np.float64), r["score_map"].ravel().astype(np.float64)
            assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.99   # CE near-ties may flip (random weights)
            z, x = torch.from_numpy(p.template).cuda(), torch.from_numpy(p.search).cuda()
            out_t = be.infer(z, x)                                        # torch CUDA in, CUDA out
            assert out_t["score_map"].is_cuda
            assert torch.allclose(out_t["score_map"].cpu(), torch.from_numpy(out["score_map"]), atol=1e-5)


@pytest.mark.gpu
def test_tensorrt_int8_engine_and_tracker(exported, tmp_path):
    from droptrack.runtime.backends import load_backend

    src, res = _engine_from(exported, tmp_path, "model_int8_trt.onnx")
    be = load_backend(res.path)
    pairs = pairs_mod.real_pairs(be.meta, 4)
    outs = [be.infer(p.template, p.search) for p in pairs]
    ref = ce.ort_outputs(src, pairs)
    boxes = par.box_stats(outs, ref, pairs, be.meta.feat_size)
    assert sum(b.iou >= 0.7 for b in boxes) >= 3


def test_flags_typing_on_tensorrt_11_is_refused_before_any_work(tiny, tmp_path, monkeypatch):
    """TensorRT 11 has no FP16/INT8 builder flags: `--trt-typing flags` failed only after the ONNX exports."""
    import sys
    from types import SimpleNamespace

    from droptrack.export.tensorrt import check_engine_options

    monkeypatch.setitem(sys.modules, "tensorrt", SimpleNamespace(__version__="11.1.0"))
    assert "needs TensorRT 10" in one_line_error(cli("export", tiny[0], "--engine", "--trt-typing", "flags", "-o",
                                                     tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    check_engine_options(4.0, "strong")                            # strong typing is TensorRT 11's way
    monkeypatch.setitem(sys.modules, "tensorrt", SimpleNamespace(__version__="10.16.0"))
    check_engine_options(4.0, "flags")


def test_a_failed_engine_build_does_not_stop_the_others(tiny, tmp_path, monkeypatch):
    """`dt export --fp16 --int8 --engine`: the FP16 build failing (an ExportError) ended the export before the INT8
    engine was tried; now every engine is tried, the failure is a FAILED row with its reason, and the command ends
    with one error line (exit 2) naming the failed engine. The graphs stay."""
    import sys

    from droptrack.engine import trt_compat
    from droptrack.engine import tensorrt_backend as trt_backend
    from droptrack.engine.onnxruntime_backend import OrtBackend
    from fake_tensorrt import FakeTRT

    class FirstBuildFails(FakeTRT):
        def build(self, monitor):
            plan = super().build(monitor)
            return None if len(self.built) == 1 else plan

    def graph_as_engine(path, *a, **k):   # a built 'engine' answers as the verified FP32 graph (no GPU here)
        return OrtBackend(path.parent / "model.onnx")

    fake = FirstBuildFails()
    env = {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"}
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module())
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(env))
    monkeypatch.setattr(trt_backend, "TensorRTBackend", graph_as_engine)
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    r = cli("export", tiny[0], "--fp16", "--int8", "--calib-pairs", 16, "--engine", "-o", out)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert len(fake.built) == 2                                        # the INT8 engine was still built
    assert (out / "model_int8_trt.engine").read_bytes() == b"PLAN" and not (out / "model_fp16.engine").exists()
    assert all((out / n).is_file() for n in ("model.onnx", "model_fp16.onnx", "model_int8_trt.onnx"))
    rows = {ln.split()[1]: ln for ln in r.output.splitlines() if ".engine" in ln and ln.startswith("│")}
    assert "FAILED" in rows["model_fp16.engine"] and " ok " in rows["model_int8_trt.engine"], r.output
    assert any(ln.startswith("note: model_fp16.engine: build failed: ") for ln in r.output.splitlines()), r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "engine build failed: model_fp16.engine (" in errors[0], r.output
    assert "model_int8_trt.engine" not in errors[0]
