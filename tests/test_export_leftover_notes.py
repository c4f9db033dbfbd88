"""dt export's note on files an earlier export left in its --output folder and this one did not rewrite.

Only graphs and engines of another checkpoint were named. An earlier export also leaves its engines' sidecars,
`model.safetensors` and the precision search's `auto_precision_<target>.json`: those of another checkpoint, and a
search report that names none and has no INT8 graph beside it to tell whose it is, are named too; nothing is deleted.
The folders here are made by hand, each file's checkpoint written into it as dt export writes it."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import onnx

from droptrack.artifact import ArtifactMeta
from droptrack.export.onnx import set_metadata
from droptrack.export.report import stale_artifacts
from droptrack.export.results import ExportReport, ExportResult
from helpers import identity_graph

A, B = "a" * 64, "b" * 64


def _meta(sha: str) -> ArtifactMeta:
    return ArtifactMeta("droptrack", "x", 128, 256, 2.0, 4.0, 16, checkpoint_sha256=sha)


def _graph(path: Path, sha: str) -> None:
    model = identity_graph(_meta(sha))
    set_metadata(model, _meta(sha))
    onnx.save(model, str(path))


def _engine(path: Path, sha: str | None, plan: bool = True) -> None:
    """An engine plan (stand-in bytes) and its sidecar naming `sha` as dt export's sidecars do."""
    if plan:
        path.write_bytes(b"plan")
    path.with_name(path.name + ".json").write_text(json.dumps({"meta": _meta(sha).to_dict(), "env": {}}))


def _safetensors(path: Path, metadata: dict[str, str]) -> None:
    """A .safetensors file with no tensors: 8-byte little-endian header length, then the JSON header."""
    header = json.dumps({"__metadata__": metadata}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)


def _report(out: Path, *names: str) -> ExportReport:
    """This export of checkpoint A: model.onnx and the other files it wrote (results)."""
    results = [ExportResult("model.onnx", out / "model.onnx", "fp32", "ok", 0.0, meta=_meta(A))]
    results += [ExportResult(n, out / n, "fp16" if "fp16" in n else "int8", "ok", 0.0, meta=_meta(A)) for n in names]
    return ExportReport(out, results)


def test_sidecars_weights_and_search_reports_of_another_checkpoint_are_named(tmp_path):
    _graph(tmp_path / "model.onnx", A)
    _engine(tmp_path / "old.engine", B)
    _engine(tmp_path / "gone.engine", B, plan=False)   # its plan removed by hand, its sidecar left
    droptrack = {"format": "droptrack", "meta": json.dumps({"checkpoint_sha256": B})}
    _safetensors(tmp_path / "model.safetensors", droptrack)
    _safetensors(tmp_path / "hub.safetensors", {"format": "pt"})   # another tool's weights: not ours to judge
    _safetensors(tmp_path / "same.safetensors", {**droptrack, "meta": json.dumps({"checkpoint_sha256": A})})
    (tmp_path / "auto_precision_trt.json").write_text(json.dumps({"target": "trt", "checkpoint_sha256": B}))
    (tmp_path / "auto_precision_ort.json").write_text(json.dumps({"target": "ort", "kept": []}))   # whose? no graph
    before = sorted(p.name for p in tmp_path.iterdir())

    (line,) = stale_artifacts(_report(tmp_path))
    assert line == (f"{tmp_path} also holds artifacts of another checkpoint or of one it cannot tell, not rewritten "
                    "by this export: auto_precision_ort.json (checkpoint unknown), auto_precision_trt.json "
                    "(checkpoint bbbbbbbbbbbb), gone.engine.json (checkpoint bbbbbbbbbbbb), model.safetensors "
                    "(checkpoint bbbbbbbbbbbb), old.engine (checkpoint bbbbbbbbbbbb), old.engine.json (checkpoint "
                    "bbbbbbbbbbbb); re-export those precisions or move them away before dt bench / dt run")
    assert sorted(p.name for p in tmp_path.iterdir()) == before   # named, never deleted


def test_an_older_search_report_is_told_by_the_int8_graph_beside_it(tmp_path):
    """A report written before reports named their checkpoint belongs to the INT8 graph of its target beside it (the
    two are written together): of this checkpoint it is not named; beside another checkpoint's graph it is."""
    _graph(tmp_path / "model.onnx", A)
    _graph(tmp_path / "model_int8_trt.onnx", A)
    (tmp_path / "auto_precision_trt.json").write_text(json.dumps({"target": "trt", "kept": ["head"]}))
    assert stale_artifacts(_report(tmp_path)) == []
    _graph(tmp_path / "model_int8_trt.onnx", B)
    (line,) = stale_artifacts(_report(tmp_path))
    assert ("of another checkpoint, not rewritten by this export: auto_precision_trt.json (checkpoint bbbbbbbbbbbb), "
            "model_int8_trt.onnx (checkpoint bbbbbbbbbbbb);") in line, line


def test_what_this_export_rewrote_is_not_named(tmp_path):
    """The INT8 graph written now, its search report (written or removed with it) and its engine's sidecar are this
    export's: they are told by name (here they hold checkpoint B, so only the names keep them out of the note)."""
    _graph(tmp_path / "model.onnx", A)
    _graph(tmp_path / "model_int8_trt.onnx", B)
    (tmp_path / "auto_precision_trt.json").write_text(json.dumps({"target": "trt", "checkpoint_sha256": B}))
    _engine(tmp_path / "model_int8_trt.engine", B)
    assert stale_artifacts(_report(tmp_path, "model_int8_trt.onnx", "model_int8_trt.engine")) == []
    (line,) = stale_artifacts(_report(tmp_path, "model_int8_trt.onnx"))   # no engine this time
    assert "export: model_int8_trt.engine (checkpoint bbbbbbbbbbbb), model_int8_trt.engine.json (checkpoint" in line
