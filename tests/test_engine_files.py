"""Engine files as a user meets them: a plan cut short after its build (a copy to the Jetson that did not finish), and
an engine cache folder (~/.cache, often another disk than the output) with no room left. TensorRT is the stand-in of
tests/fake_tensorrt.py, whose builds write the 4-byte plan b"PLAN"."""

from __future__ import annotations

import json

import pytest

from droptrack.engine.tensorrt_backend import TensorRTBackend, sidecar_path
from droptrack.errors import BackendError
from disk_limits import tmpfs
from fake_tensorrt import FakeTRT, install



@pytest.fixture
def tensorrt_here(monkeypatch) -> FakeTRT:
    return install(monkeypatch)


def test_an_engine_cut_short_is_named_so(onnx_model, tmp_path, tensorrt_here):
    """TensorRT only says it cannot deserialize such a plan, which droptrack read as 'another TensorRT version or
    GPU'; the sidecar now records the plan's size, and a shorter file is named as cut short."""
    from droptrack.export.tensorrt import build_engine

    graph = tmp_path / "model.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    engine = build_engine(graph, cache=tmp_path / "cache").path
    assert json.loads(sidecar_path(engine).read_text())["plan_bytes"] == 4
    engine.write_bytes(b"PL")
    with pytest.raises(BackendError, match=r"'model.engine' is 2 bytes, but its build wrote 4 .*cut short.*copy it "
                                           r"again, or rebuild it: dt export .*model.onnx --engine") as exc:
        TensorRTBackend(engine)
    assert "\n" not in str(exc.value)


def test_a_full_engine_cache_disk_does_not_fail_the_build(onnx_model, tmp_path, tensorrt_here):
    """The engine and the timing cache are also saved in the cache folder; a full disk there (OutputFull) ended the
    build after the engine was written, without its sidecar. The cache only saves a rebuild: now a note."""
    from droptrack.export.tensorrt import build_engine

    graph = tmp_path / "model.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    with tmpfs(tmp_path / "cache", "16k") as cache:
        try:
            (cache / "filler").write_bytes(b"\0" * (1 << 16))
        except OSError:
            pass   # the disk is full now
        res = build_engine(graph, cache=cache)
        assert not list(cache.glob("*.engine")) and not list(cache.glob("timing-*"))
    assert res.path.read_bytes() == b"PLAN" and json.loads(sidecar_path(res.path).read_text())["plan_bytes"] == 4
    assert f"engine cache folder {cache} is full: the engine is not cached" in res.notes
    assert f"timing cache not saved ({cache} full)" in res.notes


def test_a_graph_named_in_capitals_gets_its_engine(onnx_model, tmp_path, tensorrt_here, monkeypatch):
    """dt run takes MODEL.ONNX as a graph; dt export MODEL.ONNX --engine called it 'an ONNX graph, not a checkpoint'."""
    from helpers import cli

    graph = tmp_path / "MODEL.ONNX"
    graph.write_bytes(onnx_model.read_bytes())
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache"))
    r = cli("export", graph, "--engine")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "MODEL.engine").read_bytes() == b"PLAN" and len(tensorrt_here.built) == 1
