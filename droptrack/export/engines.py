"""`dt export --engine`: one TensorRT engine per verified graph, checked against PyTorch, each on its own.

A step of one engine that fails (its build, loading it for the parity check, the parity run) fails that engine
only: it is a FAILED row naming the step, with its one-line reason, and the other graphs and engines are still
exported; the command ends with one error line (exit 2). An engine that was built but not verified, or that failed
its parity check, is kept as `<name>.failed` with its sidecar (`<name>.failed.json`), never under the final name;
its plan also stays in the engine cache, so the same command reuses it instead of building it again. An engine is
built as `<name>.unchecked` and takes its final name only once its check passed: one whose check was interrupted
(Ctrl-C, a kill) stays `<name>.unchecked`, and the rerun reuses and checks it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from droptrack.artifact import content_problem, sha256_file
from droptrack.errors import BackendError, DropTrackError, ExportError, printable
from droptrack.export.onnx import check_onnx_file
from droptrack.export.parity import ParityReport, compare, prune_parity_json, write_parity_json
from droptrack.export.results import ExportReport, ExportResult, Source
from droptrack.export.tensorrt import GraphFacts
from droptrack.paths import check_regular, windows_note

Log = Callable[[str], None]
CHECK_STEPS = ("load", "parity run")   # the steps after a build (`build` is the first)
UNCHECKED = ".unchecked"   # suffix of an engine built but not yet checked


class _CheckFailed(Exception):
    """A step after the build failed: `step` ('load' | 'parity run') and the one-line reason."""

    def __init__(self, step: str, reason: str):
        super().__init__(reason)
        self.step = step


def _check(engine: Path, source: Source, meta, name: str) -> ParityReport:
    """The engine's outputs on the source's pairs against PyTorch's (`name`: the artifact's in the report). Loading or
    running it may fail for reasons of its own (a plan TensorRT refuses, GPU memory taken, a CUDA error): _CheckFailed
    naming the step."""
    from droptrack.engine.tensorrt_backend import TensorRTBackend

    step = "load"
    try:
        with TensorRTBackend(engine) as be:
            step = "parity run"
            outs = [be.infer(p.template, p.search) for p in source.pairs]
    except (DropTrackError, RuntimeError) as exc:   # RuntimeError: torch's CUDA errors (out of memory, ...)
        raise _CheckFailed(step, printable(str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)) from None
    return compare(outs, source.reference, source.pairs, meta, name, meta.precision, gate_tensors=False)


def unchecked(engine: Path) -> Path:
    """Where an engine is built before its check passed: `<name>.unchecked` (never taken for a verified engine)."""
    return engine.with_name(engine.name + UNCHECKED)


def _move(built: Path, final: Path) -> Path:
    """Rename `built` and its sidecar to `final`; the sidecar under `final` goes first, so that a kill in between
    leaves the new plan without a sidecar (refused: 'rebuild'), never beside another plan's."""
    from droptrack.engine.tensorrt_backend import sidecar_path

    sidecar_path(final).unlink(missing_ok=True)
    os.replace(built, final)
    if sidecar_path(built).is_file():
        os.replace(sidecar_path(built), sidecar_path(final))
    return final


def set_aside(built: Path, engine: Path) -> Path:
    """Keep an engine that is not verified as `<engine>.failed` (sidecar `<engine>.failed.json`) for inspection; an
    earlier engine under the final name is removed, since it would pass for this graph's."""
    from droptrack.engine.tensorrt_backend import sidecar_path

    engine.unlink(missing_ok=True)
    sidecar_path(engine).unlink(missing_ok=True)
    return _move(built, engine.with_name(engine.name + ".failed"))


def drop_stale(engine: Path) -> None:
    """Remove an earlier export's engine (and sidecar) under the final name whose graph beside it has changed since
    its build: an interrupted check of the new one would leave it there, passing for the new graph's."""
    from droptrack.engine.tensorrt_backend import sidecar_fields, sidecar_path, stale_graph

    if engine.is_file() and stale_graph(engine, sidecar_fields(sidecar_path(engine))):
        sidecar_path(engine).unlink(missing_ok=True)   # sidecar first: never a sidecar beside another plan
        engine.unlink(missing_ok=True)


def export_engine(onnx_path: Path, source: Source | None, workspace_gb: float, typing: str = "strong",
                  log: Log | None = None, facts: GraphFacts | None = None) -> ExportResult:
    """TensorRT engine for one verified graph, checked against `source` (None: not checked, built under its final
    name); on a machine without TensorRT/GPU: status 'skipped' + reason. `facts`: the graph's, where the caller has
    parsed it (parsed once)."""
    from droptrack.export.tensorrt import TensorRTUnavailable, build_engine, graph_facts

    t0 = time.perf_counter()
    facts = graph_facts(onnx_path) if facts is None else facts
    meta = facts.meta
    engine = onnx_path.with_suffix(".engine")
    built = engine if source is None else unchecked(engine)   # final name only once checked

    def result(status: str, path: Path = engine, **kw) -> ExportResult:
        return ExportResult(engine.name, path, meta.precision, status, time.perf_counter() - t0, meta=meta, **kw)

    if source is not None:
        drop_stale(engine)
    try:
        res = build_engine(onnx_path, built, workspace_gb=workspace_gb, typing=typing, log=log, facts=facts)
    except TensorRTUnavailable as exc:
        return result("skipped", notes=[str(exc)])
    except ExportError as exc:   # this build failed; the other graphs' engines are still built
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        return result("failed", notes=[reason], step="build", error=reason)
    notes = (["reused from cache"] if res.reused else []) + res.notes
    if source is None:
        return result("ok", notes=notes)
    try:
        report = _check(built, source, meta, engine.name)
    except _CheckFailed as exc:
        return result("failed", set_aside(built, engine), notes=notes, step=exc.step, error=str(exc))
    report.sha256, report.checkpoint_sha256 = sha256_file(built), source.sha256
    write_parity_json(onnx_path.parent, [report])
    if not report.passed:
        return result("failed", set_aside(built, engine), parity=report, notes=notes)
    return result("ok", _move(built, engine), parity=report, notes=notes)


def engine_failures(report: ExportReport) -> list[str]:
    """The error-line parts for engines whose build or check failed before a parity report."""
    out = report.output_dir
    built = [r for r in report.failures if r.step == "build"]
    unchecked = [r for r in report.failures if r.step in CHECK_STEPS]
    parts = [f"engine build failed: {', '.join(f'{r.name} ({r.error})' for r in built)}; the ONNX graphs are in "
             f"{out}: rebuild with `dt export GRAPH.onnx --engine`"] if built else []
    parts += [f"engine check failed: {', '.join(f'{r.name} ({r.step} failed: {r.error})' for r in unchecked)}; kept "
              f"unverified as *.engine.failed in {out}; run the same command again to check it (the build is reused "
              "from the engine cache)"] if unchecked else []
    return parts


def foreign_engine(onnx_path: Path, engine: Path) -> str | None:
    """Why an existing `engine` beside `onnx_path` is not droptrack's build of that graph (no droptrack sidecar, or
    one naming another graph), so that replacing it loses someone's file; None when it is absent or droptrack's."""
    from droptrack.engine.tensorrt_backend import sidecar_fields, sidecar_path
    from droptrack.export.tensorrt import SIDECAR_FORMAT

    if not (engine.exists() or engine.is_symlink()):
        return None
    info = sidecar_fields(sidecar_path(engine))
    if info.get("format") != SIDECAR_FORMAT:
        return "has no droptrack sidecar (built by another tool, e.g. trtexec)"
    if info.get("onnx") != onnx_path.name:
        return f"was built by droptrack from another graph ({str(info.get('onnx'))[:80]!r})"
    return None


def engine_graphs(precs: list[str], int8_targets: tuple[str, ...]) -> list[str]:
    """The graphs whose engines a checkpoint export with --engine builds: of the FP16 and TensorRT INT8 graphs, of
    model.onnx only when neither is asked (the ORT INT8 graph's U8 activations are not for TensorRT)."""
    from droptrack.export.workdir import FILENAMES, INT8_FILENAMES

    if list(precs) == ["fp32"]:
        return [FILENAMES["fp32"]]
    return ([FILENAMES["fp16"]] if "fp16" in precs else []) + \
        ([INT8_FILENAMES["trt"]] if "int8" in precs and "trt" in int8_targets else [])


def check_export_engines(output_dir: Path, graphs: list[str], overwrite: bool = False) -> None:
    """Before a checkpoint export's work: an engine in `output_dir` under a name its --engine builds that droptrack
    did not build from that graph (trtexec's, a copy) is refused, unless `overwrite` (--overwrite); droptrack's own
    engine of the graph is reused or rebuilt as usual."""
    if overwrite:
        return
    for name in graphs:
        graph = Path(output_dir) / name
        why = foreign_engine(graph, graph.with_suffix(".engine"))
        if why is not None:
            raise ExportError(f"--output '{output_dir}' holds '{graph.with_suffix('.engine').name}', which this "
                              f"export's engine build would replace, and it {why}; move it away, or pass --overwrite "
                              "to replace it")


def check_engine_folder(onnx_path: Path, overwrite: bool = False) -> None:
    """The folder of `dt export GRAPH.onnx --engine`, where the engine and its sidecar are written: writable (a
    read-only mount was a traceback after the build), those two files this user's to replace, and an engine there
    that droptrack did not build from this graph replaced only with `overwrite` (--overwrite)."""
    import tempfile

    from droptrack.engine.tensorrt_backend import sidecar_path
    from droptrack.paths import replace_denied

    folder, engine = onnx_path.parent, onnx_path.with_suffix(".engine")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ExportError(f"the engine of '{onnx_path}' is written beside it, and '{folder}' is not writable "
                          f"({exc.strerror}); copy the graph into a folder you can write and build it there") from None
    for path in (engine, sidecar_path(engine)):
        why = replace_denied(path)
        if why is not None:
            raise ExportError(f"'{path}', which the engine build replaces, {why}")
    why = None if overwrite else foreign_engine(onnx_path, engine)
    if why is not None:
        raise ExportError(f"'{engine}', which the engine build would replace, {why}; move it away, or pass "
                          "--overwrite to replace it")


def engine_only(onnx_path: Path, engine: bool, workspace_gb: float, typing: str, log: Log,
                overwrite: bool = False) -> ExportReport:
    """`dt export GRAPH.onnx --engine`: the graph's engine only (no PyTorch to check it against); `overwrite`: an
    engine beside it that droptrack did not build from it is replaced (else refused)."""
    from droptrack.engine.tensorrt_backend import sidecar_path
    from droptrack.export.tensorrt import check_engine_machine, check_tracker_graph, graph_facts
    from droptrack.export.workdir import exclusive

    if onnx_path.is_dir():   # a folder, a pipe, an empty file or a checkpoint named .onnx: what it is, not 'graph'
        raise ExportError(f"'{onnx_path}' is a folder, not an ONNX graph; pass the graph file in it, or a checkpoint")
    check_regular("ONNX file", onnx_path, ExportError)
    problem = content_problem(onnx_path)   # may parse the whole graph: once
    if problem:
        raise ExportError(problem)
    graph = check_onnx_file(onnx_path) if onnx_path.is_file() else None
    if not engine:
        raise ExportError(f"'{onnx_path}' is already an ONNX graph; add --engine to build its TensorRT engine, "
                          "or pass a checkpoint to export")
    if not onnx_path.is_file():
        raise ExportError(f"ONNX file '{onnx_path}' not found; export it with `dt export CHECKPOINT`"
                          f"{windows_note(onnx_path)}")
    facts = graph_facts(onnx_path, graph)
    del graph   # not kept through the build: TensorRT parses the file itself
    check_tracker_graph(onnx_path, facts)   # the graph first (refused on any machine), then its folder, the machine
    check_engine_folder(onnx_path, overwrite)
    check_engine_machine(graph=True)
    report = ExportReport(onnx_path.parent)
    engine_file = onnx_path.with_suffix(".engine")
    with exclusive(onnx_path.parent, (engine_file.name, sidecar_path(engine_file).name)):   # as a checkpoint export
        result = export_engine(onnx_path, None, workspace_gb, typing, log, facts)
        prune_parity_json(onnx_path.parent, None, (engine_file.name,))   # a rebuilt engine is not the one checked
    if result.step == "build":   # the build failed: its reason, as the error
        raise ExportError(result.error)
    if result.status == "skipped":   # the engine was the only thing asked for: nothing done is an error
        reason = result.notes[0] if result.notes else "TensorRT is unavailable"
        raise BackendError(f"no engine built for '{onnx_path}': {reason}; run it on a machine with TensorRT and a GPU")
    report.results.append(result)
    return report
