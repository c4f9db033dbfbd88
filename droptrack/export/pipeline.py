"""`export_onnx` / `export_all`: checkpoint -> verified FP32 / FP16 / INT8 ONNX graphs (+ TensorRT engines).

Every artifact is written to a hidden temp file in the output folder, verified against PyTorch on real
input pairs, then renamed: to its final name when parity passes, to `<name>.failed` (kept for inspection)
when it does not. A failed export never leaves a file under the final name; the output folder's file names,
checks and lock (a killed export's temp files are removed by the next one) are in droptrack.export.workdir;
the engines (built, then checked, each on its own) in droptrack.export.engines. parity.json has one row per
artifact, naming the sha256 of its file and of the checkpoint: when an export starts, rows of another checkpoint's
export and rows whose file was replaced or removed since are dropped, so every row describes a file in the folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

from droptrack.artifact import ArtifactMeta
from droptrack.errors import CheckpointError, DropTrackError, ExportError, room_checked
from droptrack.engine.base import OUTPUT_NAMES
from droptrack.export.engines import engine_failures, engine_graphs, engine_only, export_engine
from droptrack.export.groups import matches
from droptrack.export.onnx import (DEFAULT_OPSET, EXPORTER, ExportWrapper, check_opset, checkpoint_hash,
                                   example_inputs, export_meta, finalize_model, torch_to_onnx)
from droptrack.export.ce_parity import simplify_checked, torch_outputs, verify_onnx
from droptrack.export.options import DEFAULT_OUTPUT
from droptrack.export.pairs import InputPair, real_pairs
from droptrack.export.parity import ParityReport, prune_parity_json, write_parity_json
from droptrack.export.report import other_checkpoints, replaced_note
from droptrack.export.results import ExportReport, ExportResult, ParityError, Source
from droptrack.export.workdir import FILENAMES, INT8_FILENAMES, SAFETENSORS, exclusive, made_output_dir

Log = Callable[[str], None]


def load_source(checkpoint: str | Path | None = None, config: str | None = None, model=None, cfg=None,
                n_pairs: int = 4, trust: bool = False) -> Source:
    """Load a checkpoint (None = the embedded default) or wrap an in-memory model; compute references.

    `trust` (`--trust-checkpoint`) reads a legacy pickle's foreign objects as inert records (nothing runs)."""
    from droptrack.model.checkpoint import load_tracking_checkpoint
    from droptrack.model.default import default_checkpoint

    if model is None:
        path = Path(checkpoint) if checkpoint is not None else default_checkpoint()
        try:
            model, cfg = load_tracking_checkpoint(path, config, trust=trust)
        except DropTrackError:
            raise
        except Exception as exc:  # noqa: BLE001 - any other failure is a bad checkpoint for the user
            raise CheckpointError(f"checkpoint '{path}' failed to load ({exc.__class__.__name__}: "
                                  f"{str(exc).splitlines()[0][:120]}); pass a droptrack/OSTrack checkpoint") from None
        sha = checkpoint_hash(path)
    else:
        if cfg is None:
            raise ExportError("export of an in-memory model needs its config (cfg=...)")
        path, sha = None, ""
    model = model.eval().float().cpu()
    meta = export_meta(cfg, model, "fp32", sha)
    pairs = real_pairs(meta, n_pairs)
    reference, ranks = torch_outputs(model, pairs)
    return Source(model, cfg, path, sha, pairs, reference, ranks)


def _publish(tmp: Path, final: Path, report: ParityReport, out: Path, checkpoint_sha256: str) -> str:
    """Rename a verified temp file to its final name (pass) or to `<final>.failed` (fail: an earlier graph under the
    final name is removed); write parity.json, its row naming the file's sha256 and the checkpoint's."""
    from droptrack.artifact import sha256_file

    report.sha256, report.checkpoint_sha256 = sha256_file(tmp), checkpoint_sha256
    write_parity_json(out, [report])
    if report.passed:
        os.replace(tmp, final)
        return "ok"
    final.unlink(missing_ok=True)   # an earlier export's graph under this name would pass for this one
    os.replace(tmp, final.with_name(final.name + ".failed"))
    return "failed"


def _parity(path: Path, src: Source, meta: ArtifactMeta, name: str) -> ParityReport:
    return verify_onnx(path, src.model, src.pairs, src.reference, src.ranks, meta, name)


def export_onnx(checkpoint: str | Path | None = None, config: str | None = None,
                output_dir: str | Path = DEFAULT_OUTPUT, opset: int = DEFAULT_OPSET, *, model=None, cfg=None,
                source: Source | None = None, simplify_graph: bool = True, log: Log | None = None,
                locked: bool = False, keep_fp32: tuple[str, ...] = ()) -> ExportResult:
    """Export, simplify, check and verify the FP32 graph `model.onnx` (`locked`: the caller holds the folder;
    `keep_fp32`: the --keep-fp32 patterns of the graphs made from it, each checked to match one of its nodes as soon
    as the graph is built, before its parity check and before any file is replaced)."""
    log = log or (lambda s: None)
    check_opset(opset)
    with made_output_dir(output_dir) as out, contextlib.nullcontext() if locked else exclusive(out):   # one export
        # at a time in the folder; one stopped before it wrote anything leaves no new empty folder
        t0 = time.perf_counter()
        src = source or load_source(checkpoint, config, model, cfg)
        if not locked:   # export_all prunes it once for all its artifacts
            prune_parity_json(out, None)   # rows of changed files only: another export's go once model.onnx is ours
        name = FILENAMES["fp32"]
        meta = export_meta(src.cfg, src.model, "fp32", src.sha256, opset=opset, exporter=EXPORTER)
        names = OUTPUT_NAMES
        with tempfile.TemporaryDirectory(prefix=".dt-export-", dir=out) as tmpdir, room_checked(out, out):
            raw, slim = Path(tmpdir) / "raw.onnx", Path(tmpdir) / "slim.onnx"
            torch_to_onnx(ExportWrapper(src.model), example_inputs(meta), raw, opset, names)
            tool = simplify_checked(raw, slim, src.pairs[:1]) if simplify_graph else ""
            chosen = slim if tool else raw
            meta.extra["simplifier"] = tool or "none"
            graph = finalize_model(chosen, meta)
            if not graph.clean:
                raise ExportError(f"exported graph is not static (TopK constant K: {graph.topk_constant_k}, "
                                  f"dynamic tensors: {graph.dynamic_tensors[:3]}); install onnxslim (pip install "
                                  "onnxslim)")
            if keep_fp32:   # a misspelt pattern: refused now, not after the FP32 graph, calibration and engines
                import onnx

                from droptrack.export.precision import fp32_nodes

                fp32_nodes(onnx.load(str(chosen), load_external_data=False), keep_fp32)
            report = _parity(chosen, src, meta, name)
            status = _publish(chosen, out / name, report, out, src.sha256)
            if status == "ok":   # model.onnx is this export's now: another export's rows go
                prune_parity_json(out, src.sha256)
        result = ExportResult(name, out / name if status == "ok" else out / f"{name}.failed", "fp32", status,
                              time.perf_counter() - t0, report, meta, graph,
                              [f"exporter {EXPORTER}, opset {opset}, simplifier {tool or 'none'}"])
    log(f"  {result.name}: {status} ({result.seconds:.1f} s; {result.notes[0]})")
    return result


def export_fp16(fp32_path: Path, source: Source, log: Log | None = None, keep_fp32: tuple[str, ...] = ()) -> ExportResult:
    """`model_fp16.onnx` from a verified FP32 graph (FP32 islands, float32 I/O; `keep_fp32`: node-name patterns
    kept in FP32 too), verified vs PyTorch."""
    from droptrack.export.onnx import read_metadata
    from droptrack.export.precision import convert_fp16

    t0 = time.perf_counter()
    out, name = fp32_path.parent, FILENAMES["fp16"]
    meta = read_metadata(fp32_path)
    meta.precision = "fp16"
    with tempfile.TemporaryDirectory(prefix=".dt-fp16-", dir=out) as tmpdir, room_checked(out, out):
        tmp = Path(tmpdir) / name
        convert_fp16(fp32_path, tmp, meta, keep_fp32)
        graph = finalize_model(tmp, meta)
        report = _parity(tmp, source, meta, name)
        status = _publish(tmp, out / name, report, out, source.sha256)
    res = ExportResult(name, out / (name if status == "ok" else name + ".failed"), "fp16", status,
                       time.perf_counter() - t0, report, meta, graph, [f"FP32 ops: {', '.join(meta.extra['fp32_ops'])}"]
                       + ([f"{meta.extra['fp32_kept_nodes']} nodes kept in FP32 by --keep-fp32"] if keep_fp32 else []))
    (log or (lambda s: None))(f"  {name}: {status} ({res.seconds:.1f} s)")
    return res


def export_int8(fp32_path: Path, source: Source, calib: str | None = None, calib_pairs: int = 32,
                log: Log | None = None, recipe=None, pairs: tuple[list[InputPair], str] | None = None,
                ranges=None, progress: bool = False) -> ExportResult:
    """The recipe's INT8 graph (`model_int8_trt.onnx` by default; see droptrack.export.quantize) calibrated on
    tracking crops (`pairs`: precomputed (pairs, source description); `ranges`: their activation ranges, a
    quantize.Calibration the precision search already made), judged on decoded boxes vs PyTorch."""
    from droptrack.export.calibration import calibration_pairs
    from droptrack.export.onnx import read_metadata
    from droptrack.export.quantize import Int8Recipe, quantize_int8

    log = log or (lambda s: None)
    recipe = recipe or Int8Recipe()
    t0 = time.perf_counter()
    out, name = fp32_path.parent, INT8_FILENAMES[recipe.target]
    meta = read_metadata(fp32_path)
    meta.precision = "int8"
    if pairs is None:
        pairs = calibration_pairs(meta, calib, calib_pairs)
        log(f"  calibrating INT8 on {len(pairs[0])} pairs from {pairs[1]}")
    with tempfile.TemporaryDirectory(prefix=".dt-int8-", dir=out) as tmpdir, room_checked(out, out):
        tmp = Path(tmpdir) / name
        details = quantize_int8(fp32_path, tmp, meta, pairs[0], pairs[1], recipe, ranges=ranges, progress=progress)
        graph = finalize_model(tmp, meta)
        report = _parity(tmp, source, meta, name)
        status = _publish(tmp, out / name, report, out, source.sha256)
    high = "FP16" if recipe.target == "trt" else "FP32"
    idle = [k for k in recipe.keep or () if not any(matches(g, (k,)) for g in details.kept_groups)]   # --int8-keep
    res = ExportResult(name, out / (name if status == "ok" else name + ".failed"), "int8", status,
                       time.perf_counter() - t0, report, meta, graph,
                       [f"{name} ({recipe.target}): calibration {details.method}, {details.calib_pairs} pairs, "
                        f"{details.calib_source}; {high} kept: {', '.join(details.kept_groups) or 'nothing'} "
                        f"({len(details.excluded_nodes)} nodes)"
                        + (f"; --int8-keep {', '.join(idle)}: no INT8 node there in this graph (already {high})"
                           if idle else "")
                        + (f"; {details.fp32_kept_nodes} nodes kept in FP32 by --keep-fp32"
                           if details.fp32_kept_patterns else "")
                        + (f"; {details.fused_attention} attention blocks run as one fused node each"
                           if details.fused_attention else "")
                        + (f"; the head's {details.head_convs} first convs run as one INT8 GEMM"
                           if details.head_convs else "")])
    log(f"  {name}: {status} ({res.seconds:.1f} s)")
    return res


def export_all(checkpoint: str | Path | None = None, config: str | None = None,
               output_dir: str | Path = DEFAULT_OUTPUT, opset: int = DEFAULT_OPSET,
               precisions: list[str] | tuple[str, ...] | str = ("fp32",), calib: str | None = None,
               calib_pairs: int = 32, engine: bool = False, workspace_gb: float = 4.0, typing: str = "strong",
               *, model=None, cfg=None, log: Log | None = None, strict: bool = True,
               int8_options=None, trust: bool = False, keep_fp32: tuple[str, ...] = (),
               safetensors: bool = False, overwrite: bool = False, ort: bool = False) -> ExportReport:
    """FP32 graph plus the requested FP16 / INT8 graphs (and engines); raises ParityError if any failed (strict).
    `safetensors`: also model.safetensors, the FP32 weights with their config in its metadata (no --config needed).
    `ort`: also model_ort.onnx, the FP32 graph for ONNX Runtime (droptrack.export.ort_graph).

    `checkpoint` may also be an exported `.onnx` graph: then only its engine is (re)built (needs `engine`).
    `int8_options` (droptrack.export.auto_precision.Int8Options): calibration method, targets, precision search.
    `overwrite` (with `engine`): replace an engine of a name it builds (beside an `.onnx` checkpoint, or in the
    output folder) that droptrack did not build from that graph; else refused before any work.
    `keep_fp32`: node-name patterns kept in FP32 (Polygraphy's --layer-precisions, by name) in the FP16 graph and
    in the FP16 base of the TensorRT INT8 graph.
    """
    from droptrack.export.calibration import mixed_folder_note
    from droptrack.export.options import check_export_options
    from droptrack.export.precision import parse_precisions

    log = log or (lambda s: None)
    precs = parse_precisions(precisions)
    check_export_options(checkpoint, config, output_dir, opset, precs, calib, calib_pairs, workspace_gb, typing,
                         int8_options, keep_fp32, in_memory=model is not None, engine=engine, safetensors=safetensors,
                         overwrite=overwrite, ort=ort)
    if checkpoint is not None and str(checkpoint).lower().endswith(".onnx"):   # MODEL.ONNX as dt run takes it
        return engine_only(Path(checkpoint), engine, workspace_gb, typing, log, overwrite)
    from droptrack.engine.onnxruntime_backend import require_onnxruntime

    require_onnxruntime("dt export checks every graph it writes against PyTorch in ONNX Runtime")
    src = load_source(checkpoint, config, model, cfg, trust=trust)   # a corrupt checkpoint: no empty folder left
    if "int8" in precs and int8_options is not None and int8_options.keep:   # block9 of 8: before any work
        from droptrack.export.groups import check_kept_blocks

        check_kept_blocks(int8_options.keep, len(src.model.backbone.blocks))
    with made_output_dir(output_dir) as out, exclusive(out):   # one export at a time in the folder; a killed
        # export's temp files are removed; a refusal before anything is written leaves no new empty folder
        # rows of files changed since only: a refused or stopped export of another checkpoint emptied the record of
        # the finished one beside it; its rows go once this export publishes model.onnx (export_onnx)
        prune_parity_json(out, None)
        before = other_checkpoints(out, src.sha256)   # those this export replaces are named at its end
        report = ExportReport(out)
        log(f"loaded {src.checkpoint or 'in-memory model'} ({src.cfg.NAME}); PyTorch reference on {len(src.pairs)} "
            "real photo pairs")
        with tempfile.TemporaryDirectory(prefix=".dt-export-", dir=out) as work:
            weights = _stage_safetensors(Path(work), out, src) if safetensors else None
            fp32 = export_onnx(output_dir=out, opset=opset, source=src, log=log, locked=True,
                               keep_fp32=tuple(keep_fp32))
            report.results.append(fp32)
            if weights is not None and fp32.ok:   # published with the FP32 graph, never before it passed
                os.replace(weights.path, out / SAFETENSORS)
                report.results.append(dataclasses.replace(weights, path=out / SAFETENSORS))
            elif weights is not None:
                report.notes.append(f"{SAFETENSORS} not written: model.onnx failed its parity check")
        if fp32.ok:
            if ort:
                from droptrack.export.ort_graph import export_ort

                report.results.append(export_ort(fp32.path, src, _publish, log))
            if "fp16" in precs:
                report.results.append(export_fp16(fp32.path, src, log, tuple(keep_fp32)))
            if "int8" in precs:
                report.results += export_int8_graphs(fp32.path, src, calib, calib_pairs, log, int8_options,
                                                     tuple(keep_fp32))
                report.notes += [n for n in [mixed_folder_note(calib)] if n]   # its videos left out: said
        if engine:   # the ORT CPU INT8 graph (U8 activations) is not for TensorRT, nor model.safetensors
            from droptrack.export.auto_precision import Int8Options

            graphs = engine_graphs(precs, (int8_options or Int8Options()).targets)
            wanted = [r for r in report.results if r.ok and r.name in graphs and r.path.suffix == ".onnx"]
            for r in wanted:
                report.results.append(export_engine(r.path, src, workspace_gb, typing, log))
    report.notes += [n for r in report.results if r.status == "skipped" for n in r.notes[:1]]
    report.notes += replaced_note(report, before)
    report.notes += [f"{r.name}: {r.step} failed: {r.error}" for r in report.failures if r.step]
    if strict and report.failures:
        names = ", ".join(f"{r.name} ({'; '.join(r.parity.failures[:2]) if r.parity else 'failed'})"
                          for r in report.failures if not r.step)
        parts = [f"parity out of tolerance: {names}; kept for inspection as *.failed in {out} "
                 f"(details in {out / 'parity.json'})"] if names else []
        raise ParityError("; ".join(parts + engine_failures(report)), report)
    return report


def _stage_safetensors(work: Path, out: Path, src: Source) -> ExportResult:
    """--safetensors written into the export's work folder first (a full disk fails before the long exports),
    named by its final path in a disk-full error; the caller publishes it once the FP32 graph passed."""
    from droptrack.model.checkpoint import write_safetensors

    t0, path = time.perf_counter(), work / SAFETENSORS
    with room_checked(out, out / SAFETENSORS):
        write_safetensors(path, src.model, src.cfg, src.sha256)   # names the checkpoint, as the graphs do
    return ExportResult(SAFETENSORS, path, "fp32", "ok", time.perf_counter() - t0)


def export_int8_graphs(fp32_path: Path, source: Source, calib: str | None, calib_pairs: int, log: Log,
                       options=None, keep_fp32: tuple[str, ...] = ()) -> list[ExportResult]:
    """`--int8`: one graph per target from the same calibration pairs; with `options.auto_precision`, the groups
    kept in high precision come from the precision search on validation sequences (droptrack.export.auto_precision);
    `keep_fp32`: node-name patterns the TensorRT graph's FP16 base keeps in FP32."""
    from droptrack.artifact import atomic_write_json
    from droptrack.export.auto_precision import Int8Options, search_recipe
    from droptrack.export.calibration import calibration_pairs
    from droptrack.export.onnx import read_metadata
    from droptrack.export.quantize import Int8Recipe
    from droptrack.model.default import int8_record_sha, searched_int8_kept

    options = options or Int8Options()
    meta = read_metadata(fp32_path)
    pairs = calibration_pairs(meta, calib, calib_pairs)
    log(f"  calibrating INT8 on {len(pairs[0])} pairs from {pairs[1]} ({options.method})")
    results = []
    recorded = options.keep is None and not options.auto_precision   # the embedded model's kept set applies
    sha = int8_record_sha(source.sha256, source.model) if recorded else source.sha256   # its weights, in any file
    for target in options.targets:
        notes, report, ranges = [], fp32_path.parent / f"auto_precision_{target}.json", None
        # the embedded model, with neither --int8-keep nor a search: the kept set its recorded search chose
        searched = searched_int8_kept(sha, target, meta.tracker.get("CROP_GRID")) if recorded else None
        if searched:
            notes = [f"{INT8_FILENAMES[target]}: kept the groups the embedded model's precision search chose "
                     f"({searched[1]}); --int8-keep none quantizes every group"]
        recipe = Int8Recipe(target, options.method, keep=searched[0] if searched else options.keep,
                            keep_fp32=keep_fp32 if target == "trt" else ())
        if options.auto_precision:
            recipe, search = search_recipe(fp32_path, recipe, pairs, options, log,
                                           parity=lambda path: _parity(path, source, read_metadata(path),
                                                                       path.name).failures)
            notes, ranges = search.notes(), search.ranges   # the search's calibration: the export's only one
        res = export_int8(fp32_path, source, log=log, recipe=recipe, pairs=pairs, ranges=ranges,
                          progress=options.progress)
        if options.auto_precision:   # written once its graph is: a stop before leaves no report of a graph not there
            atomic_write_json(report, {**search.to_dict(), "checkpoint_sha256": source.sha256})   # whose it is
        else:   # an earlier search's kept groups are not this graph's
            report.unlink(missing_ok=True)
        res.notes += notes
        if options.auto_precision and not search.passed:   # the graph is written, as a failed bench gate's report
            res.gate = (f"--auto-precision ({target}): no kept set met --max-divergence {search.max_divergence:.1%} "
                        f"({search.divergence:.1%} frames diverged with the one written, {res.name}); raise "
                        "--max-divergence, keep more with --int8-keep, or use FP16")
        results.append(res)
    return results
