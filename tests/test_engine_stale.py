"""An engine beside a graph that changed since its build (an export interrupted during the new engine's check left
the previous engine under its name next to the new graph): refused where it is loaded, and removed by the export
that replaces it. TensorRT is tests/fake_tensorrt.py (no GPU here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from droptrack.engine.tensorrt_backend import TensorRTBackend, sidecar_path
from droptrack.errors import BackendError
from fake_tensorrt import GPU_ENV, FakeTRT, install
from helpers import cli

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tensorrt_here(monkeypatch, tmp_path) -> FakeTRT:
    return install(monkeypatch, tmp_path / "cache")


def test_an_engine_whose_graph_changed_since_its_build_is_refused(onnx_model, tmp_path, tensorrt_here):
    """Nothing compared the graph beside an engine with the one it was built from: dt run / bench / eval ran the
    previous export's engine as the new graph's."""
    import onnx

    from droptrack.export.tensorrt import build_engine

    graph = tmp_path / "model_fp16.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    engine = build_engine(graph, cache=tmp_path / "cache").path
    model = onnx.load(str(graph))
    model.doc_string = "a new export"
    onnx.save(model, str(graph))
    with pytest.raises(BackendError, match=r"engine 'model_fp16.engine' is stale: 'model_fp16.onnx' beside it changed "
                                           r"since the engine was built from it; rebuild it: dt export .*model_fp16"
                                           r".onnx --engine") as exc:
        TensorRTBackend(engine)
    assert "\n" not in str(exc.value)


class Interrupted:
    """Stands in for TensorRTBackend in the export's parity check: Ctrl-C on its first inference."""

    def __init__(self, path, *a, **k):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def infer(self, template, search):
        raise KeyboardInterrupt


def test_an_interrupted_check_leaves_no_stale_engine_beside_the_new_graph(tiny, tmp_path, tensorrt_here, monkeypatch):
    """The earlier export's model.engine (built from another graph: its sidecar's sha256 differs from the new
    model.onnx) stayed under its name when the new engine's check was interrupted."""
    from droptrack.engine import tensorrt_backend

    out = tmp_path / "out"
    out.mkdir()
    (out / "model.engine").write_bytes(b"OLDPLAN")
    sidecar_path(out / "model.engine").write_text(json.dumps({"format": "droptrack-engine", "onnx": "model.onnx",
                                                              "onnx_sha256": "0" * 64, "meta": {}, "env": GPU_ENV}))
    monkeypatch.setattr(tensorrt_backend, "TensorRTBackend", Interrupted)
    r = cli("export", tiny[0], "--engine", "-o", out)
    assert r.exit_code == 130, r.output
    assert (out / "model.engine.unchecked").read_bytes() == b"PLAN"
    assert not (out / "model.engine").exists() and not sidecar_path(out / "model.engine").exists()


def test_an_untouched_graph_is_not_hashed_at_each_load_and_a_changed_one_still_is(onnx_model, tmp_path, tensorrt_here,
                                                                                   monkeypatch):
    """Every engine load hashed its graph (~350 MB for ViT-B: dt bench started 2-3x slower). Now the stamp recorded
    at the build is trusted while the file has it; a touch, a copy or an edit is hashed, and an edit is still stale
    even with its size and mtime set back (ctime cannot be)."""
    import os
    import shutil

    from droptrack import artifact
    from droptrack.engine.tensorrt_backend import sidecar_fields, stale_graph
    from droptrack.export.tensorrt import build_engine

    graph = tmp_path / "model_fp16.onnx"
    graph.write_bytes(onnx_model.read_bytes())
    engine = build_engine(graph, cache=tmp_path / "cache").path
    info = sidecar_fields(sidecar_path(engine))
    hashed = []
    real = artifact.sha256_file
    monkeypatch.setattr(artifact, "sha256_file", lambda path, *a: hashed.append(Path(path).name) or real(path, *a))
    assert stale_graph(engine, info) is None and hashed == []
    st = graph.stat()
    os.utime(graph, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # touched: same bytes, hashed once
    assert stale_graph(engine, info) is None and hashed == ["model_fp16.onnx"]
    shutil.copyfile(onnx_model, tmp_path / "copy.onnx")
    os.replace(tmp_path / "copy.onnx", graph)   # the same bytes restored under another inode
    assert stale_graph(engine, info) is None and len(hashed) == 2
    data = bytearray(graph.read_bytes())
    data[-1] ^= 0xFF   # an edit in place of one byte: same size, same inode, mtime set back to the build's
    with open(graph, "r+b") as f:
        f.write(bytes(data))
    os.utime(graph, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert stale_graph(engine, info) == "'model_fp16.onnx' beside it changed since the engine was built from it"
