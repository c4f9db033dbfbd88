"""`dt bench`'s rows: one per artifact or OpenCV tracker, with its file facts, `dt eval` accuracy and gates."""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from droptrack.artifact import artifact_format, sha256_file
from droptrack.errors import DropTrackError, InputError, OutputFull, shell_quote
from droptrack.eval.bench_gates import Gate, gate_text, row_gates
from droptrack.eval.bench_options import BenchOptions, unique_name
from droptrack.eval.bench_reference import Parity, Reference
from droptrack.eval.bench_timing import Latency
from droptrack.wording import counted

ACCURACY_KEYS = ("auc", "precision", "norm_precision", "op50", "op75", "ao", "sr50", "sr75")
RUNTIMES = {"torch": "pytorch", "onnx": "onnxruntime", "engine": "tensorrt", "opencv": "opencv"}   # what runs a format
INT8_TARGET_RUNTIMES = {"trt": "tensorrt", "ort": "onnxruntime"}   # dt export's int8_target -> the runtime it is for


# an output of the bench that cannot be written: the whole bench stops (exit 2), as on a full disk; a failed row
# (exit 1) reads as the artifact failing its gates
_OUTPUT_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.EROFS}


def stops_the_bench(exc: BaseException, output_dir: str | Path) -> bool:
    """Whether `exc` is about the bench's own output folder (or a full disk), not the artifact of the row."""
    if isinstance(exc, OutputFull):
        return True
    if not isinstance(exc, OSError) or exc.errno not in _OUTPUT_ERRNOS:
        return False
    out = os.path.abspath(os.path.expanduser(str(output_dir)))
    return any(f is not None and os.path.abspath(os.fsdecode(f)).startswith(out + os.sep)
               for f in (exc.filename, exc.filename2))


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
    target_runtime: str | None = None    # the runtime the artifact was made for (None: not recorded)
    graph: Any = None                    # an .onnx artifact's check (onnx_files.CheckedGraph), for every loader
    notes: list[str] = field(default_factory=list)   # dt run's warnings on its extension settings (start_notes)
    meta: Any = None                     # the loaded artifact's ArtifactMeta (its TEST keys: check_settings)
    result: Any = None
    boxes: dict[str, np.ndarray] | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    @property
    def runtime(self) -> str:
        """What ran the artifact here (so what its latency is of)."""
        return RUNTIMES.get(self.format, self.format)

    @property
    def latency_on_target(self) -> bool | None:
        """Whether the latency is the target runtime's; False: another runtime emulated its graph (None: no target)."""
        return None if self.target_runtime is None else self.runtime == self.target_runtime

    @property
    def is_reference(self) -> bool:
        """Whether this row is its own PyTorch FP32 reference (its parity and gates compare it with itself)."""
        return self.reference is not None and self.reference.row is self

    def fail(self, exc: BaseException) -> None:
        self.status = "failed"
        self.reason = _reason(exc)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, DropTrackError) else f"{type(exc).__name__}: {text}"[:300]


def failure_lines(rows: list[BenchRow]) -> list[str]:
    """'a, b failed: reason' per distinct (status, reason) of the rows that did not pass, in row order: a reason that
    every row met (a video short of its header's count) is said once, not once per row."""
    groups: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r.status != "passed":
            groups.setdefault((r.status, r.reason), []).append(r.name)
    return [f"{', '.join(names)} {status.replace('_', ' ')}: {reason}" for (status, reason), names in groups.items()]


def check_graphs(artifacts: list[str]) -> dict[str, Any]:
    """{artifact: its `onnx_files.check_graph`, or the exception that refused it} of every .onnx artifact: each graph
    is parsed here once, and the check goes to the probe, the latency pass and dt eval (a large graph's parse costs
    hundreds of MB; each loader parsed it again)."""
    from droptrack.engine.onnx_files import check_graph
    from droptrack.errors import BackendError, MetadataError

    graphs: dict[str, Any] = {}
    for a in artifacts:
        if artifact_format(a) == "onnx" and Path(a).is_file():
            try:
                graphs[str(a)] = check_graph(a, BackendError)
            except (BackendError, MetadataError) as exc:   # check_graph_metadata refuses it
                graphs[str(a)] = exc
    return graphs


def check_graph_metadata(graphs: dict[str, Any]) -> None:
    """Refuse (one line, exit 2) before any row runs a graph of `check_graphs` without droptrack metadata (another
    tool's) or with metadata of a newer droptrack, or one that does not parse (cut short), reads files outside its
    folder, has a custom-domain op or INT8 nodes under an FP32 label (`graph_ops.check_nodes`): bad input on every
    device, as dt run and dt doctor refuse it; it was a failed row after the other rows were benched (exit 1)."""
    from droptrack.engine.onnxruntime_backend import meta_from_props
    from droptrack.errors import InputError, MetadataError

    for artifact, graph in graphs.items():
        if isinstance(graph, MetadataError):
            raise graph
        if isinstance(graph, Exception):
            raise InputError(str(graph)) from None
        meta_from_props(dict(graph.props), artifact)


def probe_row(artifact: str, name: str, opts: BenchOptions, graph: Any = None) -> BenchRow:
    """Row with file facts and the artifact's metadata; a load failure makes it a 'failed' row. `graph`: the
    artifact's entry of `check_graphs`."""
    from droptrack.errors import CheckpointError, MetadataError
    from droptrack.signals import import_torch

    import_torch()   # first: a stop while torch starts comes after it (signals.import_torch), not as an abort
    from droptrack.model.safe_pickle import UntrustedCheckpoint
    from droptrack.runtime.checks import check_artifact
    from droptrack.runtime.start_notes import meta_notes
    from droptrack.runtime.tracker import load_backend

    row = BenchRow(name, str(artifact), artifact_format(artifact))
    try:
        if not Path(artifact).is_file():
            raise InputError(f"{artifact} not found; pass existing checkpoint, .onnx or .engine files")
        if isinstance(graph, Exception):
            raise graph
        row.graph = graph
        check_artifact(str(artifact))
        row.size_mb = Path(artifact).stat().st_size / 1e6
        row.sha256 = sha256_file(artifact)
        # a session, not only the graph's metadata: it also proves the runtime loads the graph on this device and
        # its I/O matches the metadata, so a graph that cannot run fails here, before its reference is looked up
        with load_backend(artifact, opts.config_for(artifact), opts.device, trust=opts.trust_for(artifact),
                          checked=graph) as backend:
            meta = backend.meta
        row.meta = meta
        row.precision = meta.precision or "fp32"
        row.target_runtime = target_runtime(row.format, row.precision, meta.extra, artifact)
        row.checkpoint_sha256 = row.sha256 if row.format == "torch" else meta.checkpoint_sha256
        row.notes = meta_notes(meta, opts.ext)   # its TEST keys with the options over them, as its tracker's
    except (UntrustedCheckpoint, CheckpointError, MetadataError):   # the file itself is bad input (exit 2, before
        raise   # any work: a cut-short or damaged download), or its fix is an option of this command; not a failed row
    except Exception as exc:  # noqa: BLE001 - any load failure is reported in the row
        row.fail(exc)
    return row


def target_runtime(fmt: str, precision: str, extra: dict[str, Any], artifact: str | Path) -> str | None:
    """The runtime an artifact was made for: an INT8 graph's from dt export's `int8_target` metadata (a graph exported
    before it recorded one: from its file name, model_int8_trt.onnx / model_int8_ort.onnx), else its format's own
    runtime; None for an FP32/FP16 graph, which names none."""
    if fmt != "onnx":
        return RUNTIMES.get(fmt)
    if precision != "int8":
        return None
    target = extra.get("int8_target") if isinstance(extra, dict) else None
    if target is None:
        target = next((t for t in INT8_TARGET_RUNTIMES if Path(artifact).stem.endswith(f"int8_{t}")), None)
    return INT8_TARGET_RUNTIMES.get(target) if isinstance(target, str) else None


def runtime_note(row: BenchRow, device: str) -> str | None:
    """A line when the row's latency is not its target runtime's (a TensorRT INT8 graph timed in ONNX Runtime reads
    several times slower than FP32: that is ONNX Runtime emulating its Q/DQ nodes, not TensorRT's speed)."""
    if row.latency_on_target is not False or row.latency is None:
        return None
    how = (f"; for its speed build an engine (dt export {shell_quote(row.artifact)} --engine) and bench that"
           if row.target_runtime == "tensorrt" else "")
    return (f"{row.name}: * its latency is {row.runtime} on {device} running a graph made for {row.target_runtime}, "
            f"not {row.target_runtime}'s speed{how}")


def evaluate_row(artifact: str | None, seqs: list[Any], name: str, tag: str, opts: BenchOptions, fresh: bool = True,
                 tracker: str | None = None, check_only: bool = False, graph: Any = None, wrap: Any = None) -> Any:
    """`dt eval` on the bench frames into OUTPUT/results/<name>/ without its plots, as the bench draws every row in one
    plot of each kind (a previous bench's folder is replaced, or with `opts.resume` continued: dt eval refuses it
    when it holds another artifact's or settings' results;
    `check_only`: only that refusal, nothing is tracked or written; `graph`: the row's `check_graphs` entry;
    `wrap`: around the loaded tracker, as `StageTimer.wrap` times the pass)."""
    from droptrack.eval.resume import RENAME
    from droptrack.eval.run import evaluate

    results = Path(opts.output_dir) / "results"
    if fresh and not opts.resume and not check_only and (results / name / "eval.json").is_file():
        shutil.rmtree(results / name)
    try:
        return evaluate(artifact, seqs, results, workers=1, device="cpu" if tracker else opts.device, tag=tag,
                        name=name, config=None if tracker else opts.config_for(artifact), threads=opts.threads,
                        progress=opts.progress, tracker=tracker, ext=opts.ext if tracker is None else None,
                        check_only=check_only, graph=graph, wrap=wrap,
                        trust=False if tracker else opts.trust_for(artifact),
                        plots=False)   # the bench's own plots show every row
    except InputError as exc:   # dt eval's fix names its --name, which dt bench does not have
        text = str(exc).replace(RENAME, "pass another --output").replace("another --output or --name",
                                                                         "another --output")
        text = text.replace("another dataset root or a regenerated set",   # dt eval's causes, and bench's own
                            "another --data or --frames, or a regenerated set")
        if opts.resume:
            raise InputError(f"{text} (or drop --resume to start this bench over)") from None
        raise InputError(text) from None


def check_resume(rows: list[BenchRow], refs: list[Any], baselines: list[tuple[str, str]], seqs: list[Any], tag: str,
                 opts: BenchOptions) -> None:
    """With --resume, refuse (one line, exit 2) before any row is timed or tracked when a row's results folder holds
    another artifact's, settings' or frames' results: checked per row after the work, the other rows' folders got
    results of the changed settings and a rerun of the original command no longer resumed."""
    if not opts.resume:
        return
    targets = [(r.artifact, r.name, None, r.graph) for r in rows if r.ok]
    targets += [(ref.artifact, ref.name, None, None) for ref in refs if ref.row is None]
    targets += [(None, name, key, None) for key, name in baselines]
    for artifact, name, tracker, graph in targets:
        if (Path(opts.output_dir) / "results" / name).is_dir():
            evaluate_row(artifact, seqs, name, tag, opts, tracker=tracker, check_only=True, graph=graph)
            check_same_set(Path(opts.output_dir) / "results" / name, [s.name for s in seqs])


def check_same_set(folder: Path, names: list[str]) -> None:
    """A row folder of an interrupted bench holding results of sequences this bench does not run (another --data
    resumed into it: the folder mixed two sets, which dt analyze of it scored as one) is refused."""
    from droptrack.eval.resume import MANIFEST, manifest_or_none

    data = manifest_or_none(folder / MANIFEST)
    seen = data.get("inputs") if data is not None else None
    other = sorted(set(seen) - set(names)) if isinstance(seen, dict) else []
    other = [n for n in other if (folder / f"{n}.txt").is_file()]
    if other:
        raise InputError(f"--resume: {folder} holds results of {other[0]}"
                         f"{f' (and {len(other) - 1} more)' if len(other) > 1 else ''}, which this bench does not "
                         "run (another --data, or fewer --sequences); resume with the data it had, or rerun without "
                         "--resume to start over")


def baseline_names(rows: list[BenchRow], trackers: list[str]) -> list[tuple[str, str]]:
    """(tracker key, row name) of each OpenCV baseline: its key, or opencv_<key> when an artifact row has that name."""
    taken, names = [r.name for r in rows], []
    for key in trackers:
        name = key if key not in taken else unique_name(f"opencv_{key}", taken)
        taken.append(name)
        names.append((key, name))
    return names


def resume_notes(rows: list[BenchRow]) -> list[str]:
    """One note per row whose accuracy pass continued an interrupted bench."""
    notes = []
    for row in rows:
        res = row.result
        if res is not None and res.resumed:   # an OpenCV row's latency is its tracking times, kept with its results
            timing = ("its latency is from both runs' per-frame times" if row.format == "opencv"
                      else "latency was measured again")
            notes.append(f"{row.name}: {len(res.resumed)} of {counted(len(res.sequences), 'sequence')} resumed from "
                         f"{res.output_dir}; {timing}")
    return notes


def baseline_row(key: str, name: str, seqs: list[Any], tag: str, opts: BenchOptions) -> BenchRow:
    """A classic OpenCV tracker's row: dt eval's accuracy, latency from its per-frame times (see the docstring)."""
    import cv2

    from droptrack.eval.bench_timing import latency_from_times

    row = BenchRow(name, f"opencv:{key}", "opencv", precision="-", sha256=f"opencv-{cv2.__version__}:{key}")
    try:
        row.result = evaluate_row(None, seqs, name, tag, opts, tracker=key)
        row.boxes = row.result.boxes
        row.accuracy = accuracy(row.result, seqs, tag)
        row.latency = latency_from_times([row.result.times[s.name] for s in seqs])
    except Exception as exc:  # noqa: BLE001 - reported in the row, the others still run
        if stops_the_bench(exc, opts.output_dir):   # the disk or the output folder, not the tracker
            raise
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
