"""`dt bench`: speed and accuracy parity of deployment artifacts on the same frames, with pass/fail gates.

For every artifact (checkpoint, ONNX FP32/FP16/INT8, TensorRT engine):
  accuracy  `dt eval`'s `evaluate()` on the same sequences: AUC, P, NP (+ AO/SR on GOT-10k-style data);
  latency   of that same pass, timed stage by stage as it tracks (each frame is tracked once): after the warm-up
            frames, model-only and end-to-end ms per frame (mean, p50, p90, p95, p99), FPS, peak memory
            (droptrack.eval.bench_timing);
  parity    against the PyTorch FP32 reference: the artifact's own checkpoint (a checkpoint is its own reference;
            an ONNX/engine names its checkpoint by sha256 in its metadata, found among the artifacts, next to
            the file or as the embedded model; or --reference): delta AUC (points) with its paired bootstrap 95 %
            interval over sequences, mean per-frame IoU between the two trackers' boxes, fraction of frames where
            they diverge (IoU < 0.5). Data without ground truth (a video) is scored against the reference's boxes.
  gates     droptrack.eval.bench_gates: the interval's lower end vs --max-auc-drop, the diverged-frame rate vs
            --max-divergence (defaults per precision) and --min-fps. Export-time tensor parity is a diagnostic only.
Classic OpenCV trackers (--tracker csrt, kcf, mil, ...; droptrack.eval.baselines) are extra rows with format
'opencv': accuracy from `dt eval`, latency from its per-frame tracker times (init frames excluded), no parity.
An artifact that fails to load or run is a 'failed' row with its reason; the others still run.
Outputs in the output folder: bench.json (schema in droptrack.eval.bench_report), bench.md, success.png,
precision.png, latency.png, report.json (`dt analyze` over all rows) and results/<row>/ (dt eval's files).
`check_gates(report)` raises GateError (exit code 1) when a row failed or a gate did not pass.
Options and their checks: droptrack.eval.bench_options; one row's measurements: droptrack.eval.bench_rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from droptrack.engine.threads import plan_threads
from droptrack.errors import DatasetError, GateError, InputError, OutputFull
from droptrack.eval.bench_data import BenchData, load_bench_data, more_sequences, with_reference_gt
from droptrack.eval.bench_gates import ci_note, divergence_note, gate_text, on_target_note, step_note
from droptrack.eval.bench_options import (BenchOptions, check_bench_folder, check_inputs_kept, check_options,
                                          row_names)
from droptrack.eval.bench_reference import (Reference, check_settings, checked_reference, mismatch_notes, parity,
                                            resolve_references)
from droptrack.eval.report_plots import PLOT_FILES
from droptrack.eval.resume import locked, remove_stale_temp
from droptrack.runtime.start_notes import warn_settings
from droptrack.eval.bench_rows import (BenchRow, accuracy, baseline_names, baseline_row, check_graph_metadata,
                                       check_graphs, check_resume, evaluate_row, failure_lines, gates, probe_row,
                                       resume_notes, runtime_note, sequence_auc, stops_the_bench)
from droptrack.wording import counted

__all__ = ["BenchOptions", "BenchReport", "BenchRow", "check_gates", "run_bench"]


@dataclass
class BenchReport:
    """What run_bench measured; written as bench.json / bench.md by droptrack.eval.bench_report."""

    output_dir: Path
    options: BenchOptions
    machine: dict[str, Any]
    data: BenchData
    rows: list[BenchRow]
    references: list[Reference]
    created: str = ""
    wall_s: float = 0.0
    plots: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.status == "passed" for r in self.rows)


def _evaluate_timed(row: BenchRow, seqs: list[Any], data: BenchData, opts: BenchOptions) -> Any:
    """The row's `dt eval` pass, timed stage by stage as it tracks (bench_timing.StageTimer: each frame is tracked
    once); a row whose pass resumed some sequences from an interrupted bench is timed by a separate pass."""
    from droptrack.eval.bench_timing import StageTimer, bar, measure_latency

    timer = StageTimer(sum(len(s) - 1 for s in seqs), opts.warmup, opts.timed_frames, opts.device.startswith("cuda"))
    result = evaluate_row(row.artifact, seqs, row.name, data.tag, opts, graph=row.graph, wrap=timer.wrap)
    row.latency, row.memory = timer.latency(), timer.memory.to_dict()
    if result.resumed:
        with bar(f"latency {row.name}", opts.progress) as update:
            row.latency, row.memory, _ = measure_latency(row.artifact, seqs, opts.device,
                                                         opts.config_for(row.artifact), opts.warmup,
                                                         opts.timed_frames, opts.threads, update, ext=opts.ext,
                                                         graph=row.graph, trust=opts.trust_for(row.artifact))
    return result


def _track_references(refs: list[Reference], rows: list[BenchRow], data: BenchData,
                      opts: BenchOptions) -> list[Any]:
    """Run the references; returns the sequences every row is scored on (reference boxes as GT if there is none).

    A reference that fails makes its rows 'failed' (nothing can be compared with it)."""
    seqs = data.sequences
    if data.ground_truth == "reference" and len(refs) > 1:
        raise InputError(f"{data.name} has no ground truth, so it is scored against one reference tracker, but "
                         f"the artifacts come from {len(refs)} checkpoints; pass --reference CHECKPOINT")
    for ref in refs:
        try:
            tracked = (_evaluate_timed(ref.row, seqs, data, opts) if ref.row is not None
                       else evaluate_row(ref.artifact, seqs, ref.name, data.tag, opts))
            ref.boxes = tracked.boxes
            if data.ground_truth == "reference":
                seqs = with_reference_gt(data, ref.boxes)
                ref.result = evaluate_row(ref.artifact, seqs, ref.name, data.tag, opts, fresh=False)  # resumed, scored
                # ...of the pass that tracked them: this one only scored them (they read as resumed from a bench)
                ref.result.tracked, ref.result.resumed = tracked.tracked, tracked.resumed
                ref.result.procedures |= tracked.procedures
                ref.result.wall_s += tracked.wall_s
            else:
                ref.result = tracked
            ref.accuracy = accuracy(ref.result, seqs, data.tag)
            ref.seq_auc = sequence_auc(ref.result, seqs, data.tag)
        except Exception as exc:  # noqa: BLE001 - its rows report it
            if stops_the_bench(exc, opts.output_dir):   # the disk or the output folder, not the reference
                raise
            for row in rows:
                if row.reference is ref and row.ok:
                    row.fail(exc)
                    row.reason = f"reference {Path(ref.artifact).name} failed: {row.reason}"
    return seqs


def run_bench(opts: BenchOptions) -> BenchReport:
    """Measure every artifact (see the module docstring), write the reports, return them; gates are not raised."""
    t0 = time.perf_counter()
    check_options(opts)
    graphs = check_graphs(opts.artifacts)   # each .onnx graph parsed once, for every loader
    check_inputs_kept(opts, graphs)         # its external data too
    check_graph_metadata(graphs)            # another tool's graph, a newer droptrack's: bad input, not a row
    check_bench_folder(opts.output_dir)     # files dt bench did not write (after: an input's data names itself)
    # --reference must load (a cut-short download, another config) before the output folder is made
    fixed = checked_reference(opts.reference, opts) if opts.reference else None
    out = Path(opts.output_dir)
    with locked(out):   # a second bench into the same folder is refused; a killed one's temp files are removed
        remove_stale_temp(out, BENCH_FILES)
        try:
            return _run_bench(opts, out, t0, graphs, fixed)
        except OutputFull as exc:   # one line, exit 2: not a report that blames the artifacts for the disk
            raise OutputFull(f"{exc}; once there is room, run the same command with --resume to continue") from None


BENCH_FILES = ("bench.json", "bench.md", "report.json", "latency.png", *PLOT_FILES.values())   # what it writes there


def _run_bench(opts: BenchOptions, out: Path, t0: float, graphs: dict[str, Any],
               fixed: Reference | None) -> BenchReport:
    """run_bench's work, under the output folder's lock."""
    from droptrack.eval.bench_report import drop_old_report, drop_stale_rows, write_bench
    from droptrack.eval.machine import describe_machine
    from droptrack.eval.score_files import check_nan_gt_rows

    rows = [probe_row(a, n, opts, graphs.get(str(a))) for a, n in zip(opts.artifacts, row_names(opts.artifacts))]
    refs = resolve_references(rows, opts, fixed)   # a missing reference: before the data is made or read
    check_settings(rows, refs, opts)               # a row and its reference on other extension settings: too
    data = load_bench_data(opts.data, opts.root, out, opts.sequences, opts.frames, opts.init)
    if data.ground_truth == "none" and opts.max_auc_drop is not None:
        raise InputError(f"--max-auc-drop cannot be checked: {data.name} has no ground truth beyond the first frame "
                         "(a test split), so AUC is not measured; drop it (IoU vs the reference is still reported) "
                         "or bench on a split with ground truth")
    # the accuracy columns are OSTrack's OPE on every set, a GOT-10k folder's too: its NaN rows, before any work
    try:   # (every row failed once all were tracked)
        check_nan_gt_rows(data.sequences, data.tag, "ostrack-ope")
    except DatasetError as exc:
        if data.kind != "folder":
            raise
        raise DatasetError(f"{exc}; a folder with a list.txt is read as a GOT-10k split: one's own footage without "
                           "list.txt is read as footage, where a NaN row marks an absent target") from None
    baselines = baseline_names(rows, opts.trackers)
    check_resume(rows, refs, baselines, data.sequences, data.tag, opts)   # a changed setting: before any work
    check_own_rows(out, [r.name for r in rows + refs] + [n for _, n in baselines])   # a user's file: before any work
    warn_settings([n for r in rows if r.ok for n in r.notes])   # as dt run and dt eval, once per bench
    # rows are replaced or continued from here on: the old report would describe results that are gone (a fresh
    # bench) or a run that is not this one (--resume: the interrupted run's); the new one is written at the end
    drop_old_report(out)
    seqs = _track_references(refs, rows, data, opts)
    notes: list[str] = mismatch_notes(rows)
    for row in (r for r in rows if r.ok):
        ref = row.reference
        try:
            row.result = ref.result if ref.row is row else _evaluate_timed(row, seqs, data, opts)
            row.boxes = ref.boxes if ref.row is row else row.result.boxes
            row.accuracy = accuracy(row.result, seqs, data.tag)
            row.seq_auc = sequence_auc(row.result, seqs, data.tag)
        except Exception as exc:  # noqa: BLE001 - reported in the row, the others still run
            if stops_the_bench(exc, opts.output_dir):   # every other row would fail the same way
                raise
            row.fail(exc)
            continue
        row.parity = parity(row, ref, seqs, truth=data.ground_truth == "dataset")
        row.gates = gates(row, opts)
        auc_gate = next(g for g in row.gates if g.name == "max_auc_drop")
        div_gate = next(g for g in row.gates if g.name == "max_divergence")
        more = more_sequences(data, opts.sequences)   # a video is one sequence: --sequences adds none
        for note in (ci_note(row.name, row.parity.ci, auc_gate.threshold, more),
                     step_note(row.name, row.parity.per_sequence, row.parity.ci, auc_gate.threshold),
                     divergence_note(row.name, row.parity.per_sequence, div_gate.threshold, more),
                     on_target_note(row.name, row.parity, div_gate.threshold)):
            if note and ref.row is not row:   # the reference against itself: nothing for a note to qualify
                notes.append(note)
        failed = [g for g in row.gates if g.passed is False]
        if failed:
            row.status = "gate_failed"
            row.reason = "; ".join(gate_text(g) for g in failed)
    if opts.noise_floor is not None:   # the references' own loop noise, beside the rows' divergence
        from droptrack.eval.noise_floor import measure_all

        notes += measure_all(refs, rows, seqs, data.tag, opts, truth=data.ground_truth == "dataset")
    _check_unchanged(rows)
    for key, name in baselines:
        rows.append(baseline_row(key, name, seqs, data.tag, opts))
    notes += [n for n in (runtime_note(r, opts.device) for r in rows) if n]
    scored = [r for r in rows if r.ok]   # the training-photos note names the rows' models, as dt eval's its -m file
    notes += [n for n in [data.split_note([r.name for r in scored if r.format != "opencv"],
                                          [r.name for r in scored if r.format == "opencv"])] if n]
    plan = plan_threads(opts.threads)
    if plan.oversubscribed:   # latency was measured with more threads than cores: stalls, not the tracker's speed
        notes.append(f"threads: {plan.reason} (latency and FPS above are not the tracker's)")
    keep = {r.name for r in rows} | {r.name for r in refs} | {Path(r.noise_floor.result_dir).name for r in refs
                                                                if r.noise_floor is not None}
    stale = drop_stale_rows(out, keep)   # the folder holds this run only
    notes += [f"removed results/{', results/'.join(stale)} of an earlier bench (rows this one has not)"] if stale else []
    report = BenchReport(out, opts, describe_machine(), data, rows, refs,
                         datetime.now(timezone.utc).isoformat(timespec="seconds"), notes=notes + resume_notes(rows))
    report.wall_s = time.perf_counter() - t0
    write_bench(report, seqs)
    return report


def _check_unchanged(rows: list[BenchRow]) -> None:
    """Fail a row whose file is not the one it was benched as (another program, a `dt export` into the same folder,
    wrote it meanwhile): bench.json paired the new graph's numbers with the old one's sha256, and gates passed or
    failed on a file that is no longer there."""
    from droptrack.artifact import sha256_file

    for row in (r for r in rows if r.ok and r.sha256):
        path = Path(row.artifact)
        now = sha256_file(path) if path.is_file() else "gone"
        if now != row.sha256:
            row.fail(InputError(f"{row.artifact} was {'removed' if now == 'gone' else 'rewritten'} while it was "
                                "benched (another program, e.g. a dt export into its folder, wrote it): its numbers "
                                "may be of two files; bench it again once that has finished"))


def check_own_rows(out: Path, names: list[str]) -> None:
    """Refuse a bench folder whose results/<row> folder (one dt eval wrote: eval.json) holds a file dt eval does
    not write: a rerun removes such folders whole when it replaces or drops their row. A folder of one of this
    bench's row `names` that dt eval did not write (no eval.json) and that holds anything is refused too: the row's
    results would be written beside a user's files, and a later bench would remove them with it."""
    from droptrack.eval.resume import foreign_file

    results = out / "results"
    for name in names:
        row = results / name
        first = next(iter(sorted(row.iterdir())), None) if row.is_dir() and not row.is_symlink() else None
        if first is not None and not (row / "eval.json").is_file():
            raise InputError(f"'{row}' holds files dt bench did not write ('{first.name}'), and this bench writes its "
                             f"{name} row there; move them out of {results}, or pass another --output")
    for row in sorted(results.iterdir()) if results.is_dir() else ():
        if row.is_dir() and not row.is_symlink() and (row / "eval.json").is_file():
            bad = foreign_file(row)
            if bad is not None:
                raise InputError(f"'{bad}' is not a file dt bench wrote, and this bench replaces or removes "
                                 f"'{row}'; move it out of {out / 'results'}, or pass another --output")


def check_gates(report: BenchReport) -> None:
    """Raise InputError for an explicit gate on an unmeasured metric, GateError (exit 1) for failures."""
    for row in report.rows:
        for g in row.gates:
            if g.explicit and g.value is None and row.ok:
                flag = "--" + g.name.replace("_", "-")
                what = {"max_auc_drop": "AUC", "max_divergence": "divergence"}.get(g.name, "FPS")
                raise InputError(f"{flag} cannot be checked: {row.name} has no {what} measurement on this data; "
                                 f"drop {flag} or bench on data with ground truth")
    bad = [r for r in report.rows if r.status != "passed"]
    if bad:
        what = "; ".join(failure_lines(report.rows))
        noun = "row" if any(r.format == "opencv" for r in report.rows) else "artifact"   # a baseline is no artifact
        raise GateError(f"{len(bad)} of {counted(len(report.rows), noun)} did not pass ({what}); "
                        f"report: {report.output_dir / 'bench.md'}")
