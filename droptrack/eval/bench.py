"""`dt bench`: speed and accuracy parity of deployment artifacts on the same frames, with pass/fail gates.

For every artifact (checkpoint, ONNX FP32/FP16/INT8, TensorRT engine):
  latency   warm-up, then model-only and end-to-end ms per frame (mean, p50, p90, p99), FPS, peak memory
            (droptrack.eval.bench_timing, through the runtime loop);
  accuracy  `dt eval`'s `evaluate()` on the same sequences: AUC, P, NP (+ AO/SR on GOT-10k-style data);
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
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from droptrack.artifact import sha256_file
from droptrack.errors import DropTrackError, GateError, InputError
from droptrack.eval.bench_data import BenchData, check_output_outside_data, load_bench_data, with_reference_gt
from droptrack.eval.bench_gates import Gate, ci_note, gate_text, row_gates
from droptrack.eval.bench_reference import Parity, Reference, parity, resolve_references
from droptrack.eval.bench_timing import Latency

ACCURACY_KEYS = ("auc", "precision", "norm_precision", "op50", "op75", "ao", "sr50", "sr75")


@dataclass
class BenchOptions:
    """Everything `dt bench` accepts (see the CLI help)."""

    artifacts: list[str]
    data: str = "synthetic"
    root: str | None = None
    reference: str | None = None
    max_auc_drop: float | None = None
    max_divergence: float | None = None
    min_fps: float | None = None
    output_dir: str | Path = "out/bench"
    sequences: int | None = None
    frames: int | None = None
    device: str = "cpu"
    config: str | None = None
    init: str | None = None
    threads: int | None = None
    warmup: int = 10
    timed_frames: int = 200
    progress: bool = True
    command: str = ""
    trackers: list[str] = field(default_factory=list)    # classic OpenCV baselines (droptrack.eval.baselines)
    ext: dict = field(default_factory=dict)   # tracker-extension overrides for every model row and reference
    resume: bool = False      # keep each row's finished sequences from an interrupted bench in the same output


@dataclass
class BenchRow:
    """One artifact's measurements."""

    name: str
    artifact: str
    format: str                          # 'torch' | 'onnx' | 'engine'
    precision: str = "fp32"
    status: str = "passed"               # 'passed' | 'gate_failed' | 'failed'
    reason: str = ""
    size_mb: float | None = None
    sha256: str = ""
    checkpoint_sha256: str = ""
    accuracy: dict[str, float | None] = field(default_factory=dict)
    seq_auc: dict[str, float] = field(default_factory=dict)     # per-sequence AUC (fraction), for the interval
    latency: Latency | None = None
    memory: dict[str, Any] | None = None
    parity: Parity | None = None
    gates: list[Gate] = field(default_factory=list)
    reference: Reference | None = None
    result: Any = None
    boxes: dict[str, np.ndarray] | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def fail(self, exc: BaseException) -> None:
        self.status = "failed"
        self.reason = _reason(exc)


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


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, DropTrackError) else f"{type(exc).__name__}: {text}"[:300]


def _format(path: str) -> str:
    return {".onnx": "onnx", ".engine": "engine"}.get(Path(path).suffix.lower(), "torch")


def _probe(artifact: str, name: str, opts: BenchOptions) -> BenchRow:
    """Row with file facts and the artifact's metadata; a load failure makes it a 'failed' row."""
    from droptrack.runtime.run import check_artifact
    from droptrack.runtime.tracker import load_backend

    row = BenchRow(name, str(artifact), _format(str(artifact)))
    try:
        if not Path(artifact).is_file():
            raise InputError(f"{artifact} not found; pass existing checkpoint, .onnx or .engine files")
        check_artifact(str(artifact))
        row.size_mb = Path(artifact).stat().st_size / 1e6
        row.sha256 = sha256_file(artifact)
        with load_backend(artifact, opts.config, opts.device) as backend:
            meta = backend.meta
        row.precision = meta.precision or "fp32"
        row.checkpoint_sha256 = row.sha256 if row.format == "torch" else meta.checkpoint_sha256
    except Exception as exc:  # noqa: BLE001 - any load failure is reported in the row
        row.fail(exc)
    return row


def _row_names(artifacts: list[str]) -> list[str]:
    """Result-folder names: the artifact's stem, made unique with an index."""
    from droptrack.eval.run import tracker_name

    names: list[str] = []
    for a in artifacts:
        base = tracker_name(a)
        names.append(base if base not in names else f"{base}_{len(names)}")
    return names


def _evaluate(artifact: str | None, seqs: list[Any], name: str, tag: str, opts: BenchOptions, fresh: bool = True,
              tracker: str | None = None) -> Any:
    """`dt eval` on the bench frames into OUTPUT/results/<name>/ (a previous bench's folder is replaced, or with
    `opts.resume` continued: dt eval refuses it when it holds another artifact's or settings' results)."""
    from droptrack.eval.run import evaluate

    results = Path(opts.output_dir) / "results"
    if fresh and not opts.resume and (results / name / "eval.json").is_file():
        shutil.rmtree(results / name)
    try:
        return evaluate(artifact, seqs, results, workers=1, device=opts.device, config=opts.config, tag=tag,
                        name=name, threads=opts.threads, progress=opts.progress, tracker=tracker,
                        ext=opts.ext if tracker is None else None)
    except InputError as exc:
        if opts.resume:
            raise InputError(f"{exc} (or drop --resume to start this bench over)") from None
        raise


def resume_notes(rows: list[BenchRow]) -> list[str]:
    """One note per row whose accuracy pass continued an interrupted bench (its resumed boxes are whole pixels)."""
    notes = []
    for row in rows:
        res = row.result
        if res is not None and res.resumed:
            notes.append(f"{row.name}: {len(res.resumed)} of {len(res.sequences)} sequences resumed from "
                         f"{res.output_dir} (their boxes are read back from the result files, whole pixels); "
                         "latency was measured again")
    return notes


def _baseline_row(key: str, name: str, seqs: list[Any], tag: str, opts: BenchOptions) -> BenchRow:
    """A classic OpenCV tracker's row: dt eval's accuracy, latency from its per-frame times (see the docstring)."""
    import cv2

    from droptrack.eval.bench_timing import latency_from_times

    row = BenchRow(name, f"opencv:{key}", "opencv", precision="-", sha256=f"opencv-{cv2.__version__}:{key}")
    try:
        row.result = _evaluate(None, seqs, name, tag, opts, tracker=key)
        row.boxes = row.result.boxes
        row.accuracy = accuracy(row.result, seqs, tag)
        row.latency = latency_from_times([row.result.times[s.name] for s in seqs])
    except Exception as exc:  # noqa: BLE001 - reported in the row, the others still run
        row.fail(exc)
        return row
    row.gates = [g for g in gates(row, opts) if g.name == "min_fps"]     # no reference: no parity gates
    failed = [g for g in row.gates if g.passed is False]
    if failed:
        row.status, row.reason = "gate_failed", "; ".join(gate_text(g) for g in failed)
    return row


def _ope(result: Any, seqs: list[Any], tag: str) -> Any:
    """dt eval's OPE result (OSTrack protocol; computed for GOT-10k-style tags), or None without ground truth."""
    from droptrack.data.sequence import has_gt
    from droptrack.eval.report import analyze

    if not result.reports:
        return None
    ope = result.reports.get("ostrack-ope") or result.reports.get("pytracking-ope")
    if ope is None:
        ope = analyze([result.output_dir], [s for s in seqs if has_gt(s)], tag=tag, names=[result.tracker],
                      protocol="ostrack-ope")
    return ope.trackers[0].result


def sequence_auc(result: Any, seqs: list[Any], tag: str) -> dict[str, float]:
    """Per-sequence AUC (fraction); their unweighted mean is the OPE AUC."""
    ope = _ope(result, seqs, tag)
    return {} if ope is None else {k: v["auc"] for k, v in ope.per_sequence().items()}


def accuracy(result: Any, seqs: list[Any], tag: str) -> dict[str, float | None]:
    """AUC, P, NP, OP50, OP75 (OSTrack OPE) and AO, SR0.5, SR0.75 (GOT-10k toolkit) from dt eval's reports."""
    acc: dict[str, float | None] = dict.fromkeys(ACCURACY_KEYS)
    ope = _ope(result, seqs, tag)
    if ope is None:
        return acc
    acc.update({k: float(v) for k, v in ope.scores().items() if k in acc})
    got = result.reports.get("got10k-toolkit")
    if got is not None:
        acc.update({k: float(v) for k, v in got.trackers[0].result.scores().items() if k in acc})
    return acc


def gates(row: BenchRow, opts: BenchOptions) -> list[Gate]:
    """The row's gates (droptrack.eval.bench_gates): ΔAUC interval, diverged frames, --min-fps."""
    p = row.parity
    return row_gates(row.precision, p.ci if p is not None else None, p.divergence if p is not None else None,
                     row.latency.fps if row.latency is not None else None, opts.max_auc_drop, opts.max_divergence,
                     opts.min_fps)


def _check_options(opts: BenchOptions) -> None:
    from droptrack.config import load_config
    from droptrack.eval.baselines import check_name
    from droptrack.paths import check_not_results, check_output_dir
    from droptrack.runtime.run import check_artifact

    if not opts.artifacts and not opts.trackers:
        raise InputError("pass at least one artifact (a checkpoint, .onnx or .engine file) or --tracker NAME")
    opts.trackers = [check_name(t) for t in opts.trackers]
    for artifact in opts.artifacts:   # a missing or wrong file is a user error (exit 2), not a failed row
        check_artifact(str(artifact))
    check_output_dir("--output", opts.output_dir, [*opts.artifacts, opts.data, opts.root])
    check_output_outside_data(opts.output_dir, opts.data, opts.root)
    check_not_results("--output", opts.output_dir, ("eval.json",))
    if opts.max_auc_drop is not None and not opts.max_auc_drop >= 0:
        raise InputError(f"--max-auc-drop {opts.max_auc_drop} must be >= 0 (AUC points, e.g. 0.5)")
    if opts.max_divergence is not None and not 0 <= opts.max_divergence < 1:
        raise InputError(f"--max-divergence {opts.max_divergence} must be in [0, 1) (share of frames, e.g. 0.03)")
    if opts.min_fps is not None and not opts.min_fps > 0:
        raise InputError(f"--min-fps {opts.min_fps} must be > 0")
    if opts.ext:
        from droptrack.runtime.extensions import KEYS, check_keys

        if not opts.artifacts:
            raise InputError("tracker-extension options apply to models, not to --tracker baselines; pass an "
                             "artifact or drop them")
        checked = check_keys(opts.ext, option_names=True)
        opts.ext = {k: checked[KEYS[k][0]] for k in opts.ext}     # as numbers in bench.json
    if opts.warmup < 0 or opts.timed_frames < 1:
        raise InputError("warm-up must be >= 0 and timed frames >= 1")
    if opts.config is not None:   # else every checkpoint row failed after the data was read, exit 1
        load_config(opts.config)
    if opts.threads is not None and opts.threads < 1:   # else every model row failed, exit 1
        raise InputError(f"--threads {opts.threads}: use 1 or more")
    if opts.device != "cpu":
        from droptrack.runtime.run import resolve_device

        opts.device = resolve_device(opts.device, None)


def _time_rows(rows: list[BenchRow], data: BenchData, opts: BenchOptions) -> None:
    """Latency pass of every loaded row (a failure makes the row 'failed')."""
    from droptrack.eval.bench_timing import bar, measure_latency

    for row in (r for r in rows if r.ok):
        with bar(f"latency {row.name}", opts.progress) as update:
            try:
                row.latency, row.memory, _ = measure_latency(row.artifact, data.sequences, opts.device, opts.config,
                                                             opts.warmup, opts.timed_frames, opts.threads, update,
                                                             ext=opts.ext)
            except Exception as exc:  # noqa: BLE001 - a runtime failure is reported in the row
                row.fail(exc)


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
            if data.ground_truth == "reference":
                ref.boxes = _evaluate(ref.artifact, seqs, ref.name, data.tag, opts).boxes
                seqs = with_reference_gt(data, ref.boxes)
                ref.result = _evaluate(ref.artifact, seqs, ref.name, data.tag, opts, fresh=False)  # resumed, scored
            else:
                ref.result = _evaluate(ref.artifact, seqs, ref.name, data.tag, opts)
                ref.boxes = ref.result.boxes
            ref.accuracy = accuracy(ref.result, seqs, data.tag)
            ref.seq_auc = sequence_auc(ref.result, seqs, data.tag)
        except Exception as exc:  # noqa: BLE001 - its rows report it
            for row in rows:
                if row.reference is ref and row.ok:
                    row.fail(exc)
                    row.reason = f"reference {Path(ref.artifact).name} failed: {row.reason}"
    return seqs


def run_bench(opts: BenchOptions) -> BenchReport:
    """Measure every artifact (see the module docstring), write the reports, return them; gates are not raised."""
    from droptrack.eval.bench_report import write_bench
    from droptrack.eval.machine import describe_machine

    t0 = time.perf_counter()
    _check_options(opts)
    out = Path(opts.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [_probe(a, n, opts) for a, n in zip(opts.artifacts, _row_names(opts.artifacts))]
    refs = resolve_references(rows, opts)   # a missing or unloadable reference: before the data is made or read
    data = load_bench_data(opts.data, opts.root, out, opts.sequences, opts.frames, opts.init)
    if data.ground_truth == "none" and opts.max_auc_drop is not None:
        raise InputError(f"--max-auc-drop cannot be checked: {data.name} has no ground truth beyond the first frame "
                         "(a test split), so AUC is not measured; drop it (IoU vs the reference is still reported) "
                         "or bench on a split with ground truth")
    _time_rows(rows, data, opts)
    seqs = _track_references(refs, rows, data, opts)
    notes: list[str] = []
    for row in (r for r in rows if r.ok):
        ref = row.reference
        try:
            row.result = ref.result if ref.row is row else _evaluate(row.artifact, seqs, row.name, data.tag, opts)
            row.boxes = ref.boxes if ref.row is row else row.result.boxes
            row.accuracy = accuracy(row.result, seqs, data.tag)
            row.seq_auc = sequence_auc(row.result, seqs, data.tag)
        except Exception as exc:  # noqa: BLE001 - reported in the row, the others still run
            row.fail(exc)
            continue
        row.parity = parity(row, ref, seqs)
        row.gates = gates(row, opts)
        auc_gate = next(g for g in row.gates if g.name == "max_auc_drop")
        note = ci_note(row.name, row.parity.ci, auc_gate.threshold)
        if note:
            notes.append(note)
        failed = [g for g in row.gates if g.passed is False]
        if failed:
            row.status = "gate_failed"
            row.reason = "; ".join(gate_text(g) for g in failed)
    taken = [r.name for r in rows]
    for key in opts.trackers:
        name = key if key not in taken else f"opencv_{key}"
        taken.append(name)
        rows.append(_baseline_row(key, name, seqs, data.tag, opts))
    report = BenchReport(out, opts, describe_machine(), data, rows, refs,
                         datetime.now(timezone.utc).isoformat(timespec="seconds"), notes=notes + resume_notes(rows))
    report.wall_s = time.perf_counter() - t0
    write_bench(report, seqs)
    return report


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
        what = "; ".join(f"{r.name} {r.status.replace('_', ' ')}: {r.reason}" for r in bad)
        raise GateError(f"{len(bad)} of {len(report.rows)} artifacts did not pass ({what}); "
                        f"report: {report.output_dir / 'bench.md'}")
