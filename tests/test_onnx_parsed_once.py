"""An .onnx model is parsed by onnx once per load: the external-data check's parse also gives the files the resume
fingerprint pins (each parse of a large graph costs hundreds of MB on a Jetson; `dt run` parsed it twice besides
ONNX Runtime's own, dt eval's identity twice)."""

from __future__ import annotations

import hashlib
import json

import pytest
from helpers import cli
from test_eval_external_data import graph_with_external_weights

from droptrack.eval.resume import identity
from droptrack.eval.workers import TrackerSpec

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _count_loads(monkeypatch) -> list[str]:
    """Every onnx.load call from here on (the path it parses)."""
    real, calls = onnx.load, []

    def counting(f, *args, **kwargs):
        calls.append(str(f))
        return real(f, *args, **kwargs)

    monkeypatch.setattr(onnx, "load", counting)
    return calls


def test_dt_run_parses_an_onnx_model_once(onnx_model, video, tmp_path, monkeypatch):
    """A run that can resume (a --output file: its journal pins the model) on a real `dt export` graph."""
    calls = _count_loads(monkeypatch)
    r = cli("run", video, "-m", onnx_model, "--init", "60,40,30,30", "--max-frames", "2", "-o", tmp_path / "b.txt")
    assert r.exit_code == 0, r.output
    assert calls == [str(onnx_model)]
    assert len((tmp_path / "b.txt").read_text().splitlines()) == 2


def test_eval_identity_parses_once_and_still_pins_the_external_weights(tmp_path, monkeypatch):
    model = graph_with_external_weights(tmp_path)
    calls = _count_loads(monkeypatch)
    ident = identity(TrackerSpec(str(model), None, "cpu"), "synth")
    assert len(calls) == 1
    assert ident["external_data"] == {"w.bin": hashlib.sha256((tmp_path / "w.bin").read_bytes()).hexdigest()}


def test_dt_export_engine_from_a_graph_parses_it_once(onnx_model, tmp_path, monkeypatch):
    """`dt export GRAPH.onnx --engine` parsed the graph three times before TensorRT's parser (four with TensorRT):
    the validity check, the metadata for the report, the metadata and I/O shapes for the build."""
    graph = tmp_path / "model.onnx"
    graph.write_bytes(onnx_model.read_bytes())   # the engine is written beside its graph
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache"))
    calls = _count_loads(monkeypatch)
    r = cli("export", graph, "--engine")
    assert r.exit_code == 0 or "no engine can be built" in r.output, r.output   # built, or no TensorRT / GPU here
    assert calls == [str(graph)]   # no TensorRT: the graph is still checked (once) before the machine


def test_dt_eval_parses_an_onnx_model_once(onnx_model, tmp_path, monkeypatch):
    """`dt eval --model GRAPH.onnx` parsed it for the results folder's identity, then again in the loader (and once
    more in every worker process): the identity's check now goes with the tracker spec to the loaders."""
    data = tmp_path / "synth"
    assert cli("data", "synth", data, "-n", "1", "--frames", "4", "--split", "val").exit_code == 0
    calls = _count_loads(monkeypatch)
    r = cli("eval", "--dataset", "synth", "--root", data, "-m", onnx_model, "-o", tmp_path / "r")
    assert r.exit_code == 0, r.output
    assert calls == [str(onnx_model)]
    assert (tmp_path / "r" / "model" / "synth_val_00001.txt").is_file()


def test_a_graph_replaced_after_its_check_is_checked_again(tmp_path, monkeypatch):
    """The loaders skip their own check only for the file that was checked: one whose external data was moved out
    of its folder after the check (a race with whoever may write it) is refused, as without the earlier check."""
    from droptrack.engine.onnx_files import check_graph
    from droptrack.engine.onnxruntime_backend import OrtBackend
    from droptrack.errors import BackendError, CheckpointError

    model = graph_with_external_weights(tmp_path)
    checked = check_graph(model, CheckpointError)
    assert checked.locations == ("w.bin",) and checked.locations_for(model) == ["w.bin"]
    assert graph_with_external_weights(tmp_path, "../outside.bin") == model   # rewritten in place
    assert checked.locations_for(model) is None
    calls = _count_loads(monkeypatch)
    with pytest.raises(BackendError, match="climbs out of the model's folder"):
        OrtBackend(model, checked=checked)
    assert calls == [str(model)]


def test_dt_bench_parses_an_onnx_model_once(onnx_model, tiny_ckpt, tmp_path, monkeypatch):
    """`dt bench GRAPH.onnx` parsed it three times: the probe for its metadata, the latency pass and dt eval's
    identity; the check made before the output folder is made now goes to all three."""
    calls = _count_loads(monkeypatch)
    out = tmp_path / "bench"
    r = cli("bench", onnx_model, "--reference", tiny_ckpt, "--sequences", "1", "--frames", "4", "--threads", "1",
            "-o", out)
    assert r.exit_code == 0, r.output
    assert calls == [str(onnx_model)]
    row = json.loads((out / "bench.json").read_text())["rows"][0]
    assert row["status"] == "passed" and row["latency"]["frames"] > 0 and row["eval"]["tracked"] == 1
