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


# ----- an earlier export of the same checkpoint -----

def test_files_of_an_earlier_export_of_this_checkpoint_are_named_as_such(tmp_path):
    """A re-export of the same checkpoint with other options leaves the earlier run's files it does not rewrite
    (its INT8 graphs and search report, an engine): one note names them as that run's; another checkpoint's files
    stay in the other note."""
    from droptrack.export.report import earlier_run_files

    _graph(tmp_path / "model.onnx", A)
    _graph(tmp_path / "model_fp16.onnx", A)                       # rewritten now
    _graph(tmp_path / "model_int8_trt.onnx", A)
    (tmp_path / "auto_precision_trt.json").write_text(json.dumps({"target": "trt", "checkpoint_sha256": A}))
    _engine(tmp_path / "model.engine", A)
    _graph(tmp_path / "other.onnx", B)
    before = sorted(p.name for p in tmp_path.iterdir())
    report = _report(tmp_path, "model_fp16.onnx")
    assert earlier_run_files(report) == [
        f"{tmp_path} still holds files of an earlier export of this checkpoint that this one did not rewrite: "
        "auto_precision_trt.json, model.engine, model.engine.json, model_int8_trt.onnx; they come from that earlier "
        "run (same checkpoint, maybe other options), not from this one"]
    (stale,) = stale_artifacts(report)
    assert "export: other.onnx (checkpoint bbbbbbbbbbbb);" in stale
    assert sorted(p.name for p in tmp_path.iterdir()) == before   # named, never deleted
    assert earlier_run_files(_report(tmp_path, "model_fp16.onnx", "model_int8_trt.onnx", "model.engine")) == []


def test_dt_export_names_the_earlier_fp16_graph_when_only_fp32_is_asked(tiny, tmp_path):
    from helpers import cli

    out = tmp_path / "out"
    r = cli("export", tiny[0], "--fp16", "-o", out)
    assert r.exit_code == 0 and "still holds" not in r.output, r.output
    r = cli("export", tiny[0], "--fp16", "-o", out)               # the same export again: everything rewritten
    assert r.exit_code == 0 and "still holds" not in r.output, r.output
    before = (out / "model_fp16.onnx").read_bytes()
    r = cli("export", tiny[0], "-o", out)
    text = " ".join(r.output.split())
    assert r.exit_code == 0, r.output
    assert ("still holds files of an earlier export of this checkpoint that this one did not rewrite: "
            "model_fp16.onnx; they come from that earlier run (same checkpoint, maybe other options)") in text, text
    assert "another checkpoint" not in text and "model.onnx" in text   # the summary table is still printed
    assert (out / "model_fp16.onnx").read_bytes() == before


def test_files_of_another_checkpoint_this_export_rewrites_are_named_as_replaced(tmp_path):
    from droptrack.export.report import other_checkpoints, replaced_note

    _graph(tmp_path / "model.onnx", B)          # another checkpoint's export: model.onnx, model_fp16.onnx replaced
    _graph(tmp_path / "model_fp16.onnx", B)     # without a word (only the files not rewritten were named)
    _graph(tmp_path / "model_int8_ort.onnx", A)   # this checkpoint's own: not "another"
    (tmp_path / "notes.onnx").write_bytes(b"not a graph")
    before = other_checkpoints(tmp_path, A)
    assert before == {"model.onnx": B, "model_fp16.onnx": B}
    for name in before:   # this export writes them
        _graph(tmp_path / name, A)
    assert replaced_note(_report(tmp_path, "model_fp16.onnx"), before) == [
        f"replaced model.onnx (checkpoint {B[:12]}), model_fp16.onnx (checkpoint {B[:12]}) of an export of another "
        f"checkpoint in {tmp_path}"]
    assert replaced_note(_report(tmp_path), {}) == []
