"""`dt bench` outputs: bench.json, bench.md, the rich table, latency.png (+ success/precision plots via dt analyze).

bench.json, schema_version 1 (keys are stable; new keys may be added without a version bump; NaN/inf -> null):
    schema_version      int, 1
    droptrack_version   str
    created             str, ISO 8601 UTC;  wall_s: float, the whole bench
    command             str: the command line ('' when called as a library)
    passed              bool: every row has status 'passed'
    machine             droptrack.eval.machine.describe_machine(): cpu, cpu_int8 (the INT8 instruction sets: INT8
                        speed depends on them, and without VNNI U8S8 GEMMs can saturate), cores, usable_cores,
                        memory_gb, os, python, loadavg_1m, gpu {name, capability, memory_gb, count, cuda,
                        driver} | null, jetson {model, l4t, power_mode, jetson_clocks} | null, versions {droptrack,
                        torch, onnxruntime, onnx, tensorrt, opencv, numpy}
    data                {kind: synthetic|dataset|video|folder, name, root, tag, ground_truth: dataset|reference,
                         n_sequences, n_frames, sequences: {name: frames}, split: str | null (a synthetic set's
                         split, from its synth.json), training_photos: bool (a synthetic train set: droptrack's
                         synthetic models, the default one too, learnt from its photos; a note says so)}
    settings            {device, threads, config, warmup_frames, max_timed_frames, divergence_iou: 0.5,
                         tracker_overrides: {TEST key: value} | null (dt bench's extension options, every model row),
                         resume: bool (--resume given)}
    gates               {max_auc_drop: float|null (given; AUC points), max_auc_drop_defaults: {fp32, fp16, int8},
                         max_divergence: float|null (given; fraction), max_divergence_defaults: {fp32, fp16, int8},
                         min_fps: float|null}
    score_units         'fraction': accuracy scores are in [0, 1]; delta_auc_points and AUC drops are x100
    references          [{name, artifact, sha256, is_row: bool, result_dir, accuracy}]
    rows                [{name, artifact, format: torch|onnx|engine, precision: fp32|fp16|int8, status: passed|
                          gate_failed|failed, gated: bool (some gate was checked; false for an OpenCV baseline
                          without --min-fps, whose 'passed' means only that it ran), reason, size_mb, sha256,
                          checkpoint_sha256,
                          accuracy: {auc, precision, norm_precision, op50, op75, ao, sr50, sr75} (null = not measured),
                          latency: {model_ms, e2e_ms: {mean, p50, p90, p95, p99}, stages_ms: {decode, pre, infer, post}
                                    (means), fps (1000 / mean e2e), frames, warmup_frames, init_ms} | null,
                          memory: {peak_rss_mb (process RSS high-water mark while the artifact was loaded and
                                   timed), rss_increase_mb (over the RSS before loading), cuda_max_allocated_mb
                                   (torch's CUDA allocator: PyTorch rows on --device cuda), scope: block|process} | null,
                          parity: {reference, reference_sha256, delta_auc_points, mean_iou, divergence, frames,
                                   delta_auc_ci: {delta, low, high, sequences, samples, level, method} | null
                                   (points; paired bootstrap over sequences),
                                   per_sequence: {seq: {mean_iou, divergence, frames, delta_auc_points}}} | null,
                          gates: [{name: max_auc_drop|max_divergence|min_fps, threshold, value, passed: bool|null,
                                   explicit}] (max_auc_drop value: -(CI lower end), the largest drop not ruled out),
                          eval: {result_dir, fps, fps_definition, wall_s, tracked: int (sequences tracked in this
                                 run), resumed: int (kept from an interrupted bench, --resume)} | null,
                          procedure: str | null (the tracker's settings in words, e.g. its scale search),
                          is_reference: bool (the row is its own PyTorch FP32 reference: its parity and parity
                                          gates compare it with itself; the table shows it as '— (reference)'),
                          runtime: pytorch|onnxruntime|tensorrt|opencv (what ran it here, so what the latency is of),
                          target_runtime: str | null (what it was made for: an INT8 graph's dt export int8_target;
                                          null for an FP32/FP16 graph, which names none),
                          latency_on_target: bool | null (false: runtime emulated a graph made for
                                          target_runtime, so the latency is not the target's; the table marks
                                          its latency cells '*' and a note says so)}]
    plots               {success, precision, norm_precision, latency: file names next to bench.json}
    files               {markdown: 'bench.md', analysis: 'report.json' (dt analyze over all rows), results: 'results'}
    notes               [str]: e.g. a ΔAUC interval wider than its gate (the set is too small to show it)
Imports go one way: bench.py -> bench_report.py -> bench_gates.py.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from droptrack.artifact import atomic_write_json, atomic_write_text
from droptrack.errors import DropTrackError, OutputFull, plain_text, printable, shell_join
from droptrack.eval.bench_gates import DEFAULT_MAX_AUC_DROP, DEFAULT_MAX_DIVERGENCE, divergence_spread, gate_text
from droptrack.wording import counted

SCHEMA_VERSION = 1
STATUS_GLYPH = {"passed": "✅", "gate_failed": "❎", "failed": "❌"}
HEADERS = ("Artifact", "Format", "Precision", "Status", "Size MB", "AUC", "ΔAUC", "ΔAUC 95% CI", "IoU vs ref",
           "Diverged", "ms p50", "ms p95", "ms p99", "model p50", "FPS", "RSS MB")
TABLE_WIDTH = 190   # the terminal table is about 186 characters wide: a narrower console squeezes the names


def _clean(obj: Any) -> Any:
    """numpy scalars -> Python, NaN/inf -> None (recursively)."""
    from droptrack.eval.report import _clean as clean

    return clean(obj)


def _row_dict(row: Any) -> dict[str, Any]:
    p = row.parity
    ev = None
    if row.result is not None:
        ev = {"result_dir": str(row.result.output_dir), "fps": row.result.fps,
              "fps_definition": row.result.fps_definition, "wall_s": row.result.wall_s,
              "tracked": len(row.result.tracked), "resumed": len(row.result.resumed)}
    return {"name": row.name, "artifact": row.artifact, "format": row.format, "precision": row.precision,
            "status": row.status, "gated": gated(row), "reason": row.reason, "size_mb": row.size_mb,
            "sha256": row.sha256,
            "checkpoint_sha256": row.checkpoint_sha256, "accuracy": row.accuracy or None,
            "latency": row.latency.to_dict() if row.latency is not None else None, "memory": row.memory,
            "parity": None if p is None else {
                "reference": p.reference, "reference_sha256": p.reference_sha256,
                "delta_auc_points": p.delta_auc_points, "mean_iou": p.mean_iou, "divergence": p.divergence,
                "frames": p.frames, "delta_auc_ci": p.ci.to_dict() if p.ci is not None else None,
                "per_sequence": p.per_sequence},
            "gates": [{"name": g.name, "threshold": g.threshold, "value": g.value, "passed": g.passed,
                       "explicit": g.explicit} for g in row.gates],
            "eval": ev, "procedure": procedure(row), "is_reference": row.is_reference, "runtime": row.runtime,
            "target_runtime": row.target_runtime, "latency_on_target": row.latency_on_target}


def procedure(row: Any) -> str | None:
    """The row's tracker settings in words (`TrackerExt.describe` of the sequences it tracked; None if none)."""
    procs = sorted(row.result.procedures) if row.result is not None else []
    return "; ".join(procs) or None


def bench_dict(report: Any) -> dict[str, Any]:
    """The bench.json object (schema in the module docstring)."""
    from droptrack import __version__
    from droptrack.eval.bench_reference import DIVERGENCE_IOU

    o = report.options
    refs = [{"name": r.name, "artifact": r.artifact, "sha256": r.sha256, "is_row": r.row is not None,
             "result_dir": str(r.result.output_dir) if r.result is not None else None, "accuracy": r.accuracy or None}
            for r in report.references]
    return _clean({
        "schema_version": SCHEMA_VERSION, "droptrack_version": __version__, "created": report.created,
        "wall_s": report.wall_s, "command": o.command, "passed": report.passed, "machine": report.machine,
        "data": report.data.to_dict(),
        "settings": {"device": o.device, "threads": o.threads, "config": o.config, "warmup_frames": o.warmup,
                     "max_timed_frames": o.timed_frames, "divergence_iou": DIVERGENCE_IOU,
                     "tracker_overrides": o.ext or None, "resume": o.resume},
        "gates": {"max_auc_drop": o.max_auc_drop, "max_auc_drop_defaults": DEFAULT_MAX_AUC_DROP,
                  "max_divergence": o.max_divergence, "max_divergence_defaults": DEFAULT_MAX_DIVERGENCE,
                  "min_fps": o.min_fps},
        "score_units": "fraction", "references": refs, "rows": [_row_dict(r) for r in report.rows],
        "plots": report.plots, "files": {"markdown": "bench.md", "analysis": "report.json", "results": "results"},
        "notes": report.notes})


def _fmt(v: float | None, spec: str, scale: float = 1.0, signed: bool = False) -> str:
    """A number as the table shows it; one that rounds to zero reads 0.00, not -0.00 (two AUCs equal but for the
    order of their float sums differ by 1e-14: '-0.00' read as a drop)."""
    if v is None or not math.isfinite(v):
        return "-"
    x = v * scale
    if float(format(x, spec)) == 0:
        x = 0.0
    return format(x, ("+" if signed else "") + spec)


def _ci(ci: Any) -> str:
    return "-" if ci is None else f"[{_fmt(ci.low, '.2f', signed=True)}, {_fmt(ci.high, '.2f', signed=True)}]"


def _diverged(p: Any) -> str:
    """'2.4% (3/40)': the diverged-frame rate and in how many of the sequences it happened."""
    if p is None or p.divergence is None:
        return "-"
    k, n, _ = divergence_spread(p.per_sequence)
    return f"{p.divergence:.1%} ({k}/{n})" if n else f"{p.divergence:.1%}"


def gated(row: Any) -> bool:
    """Whether any gate was checked on the row (an OpenCV baseline has none unless --min-fps is given)."""
    return any(g.passed is not None for g in row.gates)


def status_cell(row: Any) -> str:
    """The Status cell: a row that ran with no gate to check reads as not gated, not as passed; the reference row
    (its parity gates compare it with itself) reads as the reference."""
    if row.status == "passed" and row.is_reference:
        return "— (reference)"
    if row.status == "passed" and not gated(row):
        return "— (baseline, no gates)" if row.format == "opencv" else "— (no gates)"
    return f"{STATUS_GLYPH[row.status]} {row.status.replace('_', ' ')}"


def row_cells(row: Any) -> list[str]:
    """The table cells of one row (HEADERS order)."""
    lat, p, mem = row.latency, row.parity, row.memory or {}
    e2e = lat.e2e_ms if lat else {}
    timed = [*(_fmt(e2e.get(p), ".2f") for p in ("p50", "p95", "p99")),
             _fmt(lat.model_ms.get("p50") if lat else None, ".2f"), _fmt(lat.fps if lat else None, ".1f")]
    if row.latency_on_target is False:   # another runtime emulated the graph: the note under the table says which
        timed = [t if t == "-" else t + "*" for t in timed]
    return [row.name, row.format, row.precision, status_cell(row),
            _fmt(row.size_mb, ".1f"), _fmt(row.accuracy.get("auc"), ".2f", 100),
            _fmt(p.delta_auc_points if p else None, ".2f", signed=True), _ci(p.ci if p else None),
            _fmt(p.mean_iou if p else None, ".3f"),
            _diverged(p), *timed, _fmt(mem.get("peak_rss_mb"), ".0f")]


def title(report: Any) -> str:
    from droptrack.eval.machine import machine_line

    d = report.data
    size = f"{counted(len(d.sequences), 'sequence')}, {counted(d.n_frames, 'frame')}"
    return (f"dt bench: {d.name} ({size}, ground truth: {d.ground_truth}) "
            f"on {report.options.device}; {machine_line(report.machine)}; {report.wall_s:.0f} s")


def bench_table(report: Any) -> Any:
    """A rich Table like `yolo benchmark`'s, one row per artifact."""
    from rich.table import Table

    table = Table(title=plain_text(title(report)))
    rows = [row_cells(row) for row in report.rows]
    for h in HEADERS:   # the name folds only past 24 characters (the other columns left it 5 at 160 columns)
        table.add_column(h, justify="left" if h in ("Artifact", "Format", "Precision", "Status") else "right",
                         no_wrap=h != "Artifact", overflow="fold",
                         min_width=min(24, max((len(c[0]) for c in rows), default=8)) if h == "Artifact" else None)
    for cells in rows:
        table.add_row(plain_text(cells[0]), *cells[1:])   # a name like model[fp16] or run:smile:1 is text
    return table


def summary_lines(report: Any) -> list[str]:
    """Reasons of failed rows (each distinct one once), the reference(s), and where the files are (no empty line)."""
    from droptrack.eval.bench_rows import failure_lines

    lines = failure_lines(report.rows)
    lines += [f"reference: {r.artifact} (PyTorch FP32, AUC {_fmt(r.accuracy.get('auc'), '.2f', 100)})"
              for r in report.references]
    procs = sorted({p for p in map(procedure, report.rows) if p})
    lines += [f"tracker: {' / '.join(procs)}"] if procs else []
    lines += report.notes
    out = report.output_dir
    lines.append(f"report: {out / 'bench.md'}  json: {out / 'bench.json'}")
    lines += ["plots: " + "  ".join(str(out / p) for p in report.plots.values())] if report.plots else []
    return [printable(line) for line in lines]   # file names from elsewhere: no terminal escape sequences


def next_command(report: Any) -> str | None:
    """What to run next: `dt run` with the fastest artifact that passed, on the bench's video from its first box
    (else VIDEO --init X,Y,W,H), with the bench's device, config, threads (unless oversubscribed), tracker-extension
    options and --trust-checkpoint (a checkpoint); None when no artifact passed."""
    from droptrack.engine.threads import plan_threads
    from droptrack.runtime.extensions import option_args

    ok = [r for r in report.rows if r.status == "passed" and r.format != "opencv" and r.latency is not None]
    if not ok:
        return None
    best, o = max(ok, key=lambda r: r.latency.fps), report.options
    threads = o.threads if o.threads and not plan_threads(o.threads).oversubscribed else None
    video = report.data.kind == "video" or report.data.one_source   # its first box too; else placeholders
    # for both (as dt export's): without --init, dt run on a machine without a display stops at the box
    source = [report.data.name, "--init", ",".join(f"{v:g}" for v in report.data.sequences[0].boxes[0])] if video \
        else ["VIDEO", "--init", "X,Y,W,H"]
    argv = ["dt", "run", *source, "--model", best.artifact, "--device", o.device,
            *(["--config", o.config] if o.config else []), *(["--threads", str(threads)] if threads else []),
            *option_args(o.ext), *(["--trust-checkpoint"] if o.trust_for(best.artifact) else [])]
    return shell_join(argv)   # a path with control characters as $'...': text that pastes


def markdown(report: Any) -> str:
    """bench.md: the table, gates, reasons, machine, data, plots and the command that produced it."""
    d, o, m = report.data, report.options, report.machine
    head = "| " + " | ".join(HEADERS) + " |\n|" + "|".join("---" for _ in HEADERS) + "|\n"
    rows = "".join("| " + " | ".join(c.replace("|", "/") for c in row_cells(r)) + " |\n" for r in report.rows)
    gates = "".join(f"- {r.name}: " + "; ".join(f"{g.name} {'pass' if g.passed else 'FAIL' if g.passed is False else 'n/a'}"
                                              f" ({_gate_value(g)})" for g in shown) + "\n"
                    for r, shown in ((r, own_gates(r)) for r in report.rows) if shown)
    reasons = "".join(f"- {r.name}: {r.reason}\n" for r in report.rows if r.reason)
    refs = "".join(f"- `{r.artifact}` (sha256 {r.sha256[:12]}..., AUC {_fmt(r.accuracy.get('auc'), '.2f', 100)})\n"
                   for r in report.references)
    plots = "".join(f"![{k}]({v})\n" for k, v in report.plots.items())
    procs = sorted({p for p in map(procedure, report.rows) if p})
    timed = [r for r in report.rows if r.latency is not None]   # an OpenCV row: every frame's call, no warm-up
    warm = sorted({r.latency.warmup_frames for r in timed if r.format != "opencv"}) or [o.warmup]
    cv = "; OpenCV baselines: every tracked frame" if any(r.format == "opencv" for r in timed) else ""
    gpu = m["gpu"]["name"] if m.get("gpu") else "none"
    jetson = f", Jetson {m['jetson']['model']} power mode {m['jetson']['power_mode']}" if m.get("jetson") else ""
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    isa = f" [{m['cpu_int8']}]" if m.get("cpu_int8") else ""   # INT8 speed and numerics depend on it
    return (f"# dt bench\n\n{'PASSED' if report.passed else 'FAILED'} - {report.created}, {report.wall_s:.0f} s\n\n"
            + (f"Command: `{o.command}`\n\n" if o.command else "")
            + f"Data: {d.name} ({d.kind}, tag {d.tag}), {counted(len(d.sequences), 'sequence')}, "
            f"{counted(d.n_frames, 'frame')}, ground "
            f"truth: {d.ground_truth}. Device {o.device}; latency timed in the accuracy pass, over up to {o.timed_frames} "
            f"tracked frames after its first {' or '.join(map(str, warm))} (warm-up, at most half of a short set; end-to-end = pre + infer + post, frame decoding "
            f"excluded{cv})."
            + (f" Tracker: {' / '.join(procs)}." if procs else "") + "\n\n"
            f"Machine: {m['cpu']}{isa} ({m['usable_cores']} of {m['cores']} cores, {m['memory_gb']} GB), "
            f"GPU {gpu}{jetson}; "
            f"load {m['loadavg_1m']}; {versions}.\n\n" + head + rows
            + "\nAUC, ΔAUC (artifact - reference) and drops in points (x100); ΔAUC 95% CI = paired bootstrap over "
            "sequences (an artifact fails when its lower end is below minus the AUC gate); IoU vs ref = mean "
            "per-frame IoU between the artifact's and the PyTorch reference's boxes; Diverged = frames with IoU < 0.5 "
            f"({divergence_gate(o.max_divergence)}), and in how many of the sequences they are.\n\n"
            + "".join(f"- {n}\n" for n in report.notes) + ("\n" if report.notes else "")
            + (f"## Reference\n\n{refs}\n" if refs else "") + (f"## Gates\n\n{gates}\n" if gates else "")
            + (f"## Failures\n\n{reasons}\n" if reasons else "") + (f"## Plots\n\n{plots}" if plots else ""))


def own_gates(row: Any) -> list[Any]:
    """The gates bench.md lists for a row: the reference's parity gates compare it with itself, so only its
    --min-fps gate says something about it."""
    return [g for g in row.gates if g.name == "min_fps"] if row.is_reference else list(row.gates)


def divergence_gate(given: float | None) -> str:
    """The diverged-frame gate in words, from the thresholds the gates use (bench.md said FP16 and INT8 only)."""
    if given is not None:
        return f"gated at {given:.1%}, --max-divergence"
    return "gated by default at " + ", ".join(f"{k.upper()} {v:.1%}" for k, v in DEFAULT_MAX_DIVERGENCE.items())


def _gate_value(g: Any) -> str:
    return gate_text(g)


def latency_plot(path: Path, rows: list[Any]) -> Path | None:
    """latency.png: latency_figure, written atomically (None when no row was timed)."""
    from droptrack.eval.plot_style import save_png

    fig = latency_figure(rows)
    return None if fig is None else save_png(fig, path)


def _ms(v: float) -> str:
    """A latency to two significant decimals below 1 ms (MOSSE's 0.03 ms read '0.0 ms')."""
    return f"{v:.1f}" if v >= 1 else f"{v:.2f}"


def latency_figure(rows: list[Any]) -> Any:
    """Stacked horizontal bars of the mean pre / infer / post ms per row (one 'tracker' bar for OpenCV baselines);
    the legend names only the stages some row has. None when no row was timed."""
    timed = [r for r in rows if r.latency is not None and r.latency.frames]
    if not timed:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from droptrack.eval.plot_style import plain

    fig = Figure(figsize=(7.0, 0.6 * len(timed) + 1.6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    names = [plain(f"{r.name} ({' '.join(v for v in (r.format, r.precision) if v and v != '-')})"
                   + (f" * {r.runtime}, not {r.target_runtime}" if r.latency_on_target is False else ""))
             for r in timed][::-1]
    left = [0.0] * len(timed)
    stages = [(s, c) for s, c in (("pre", "#4c72b0"), ("infer", "#dd8452"), ("post", "#55a868"),
                                  ("tracker", "#8c8c8c")) if any(r.latency.stages_ms.get(s) for r in timed)]
    for stage, color in stages:
        vals = [(r.latency.stages_ms.get(stage) or 0.0) for r in timed][::-1]
        ax.barh(names, vals, left=left, color=color, label=stage)
        left = [a + b for a, b in zip(left, vals)]
    for y, (total, r) in enumerate(zip(left, timed[::-1])):
        ax.text(total, y, f" {_ms(total)} ms ({r.latency.fps or 0:.0f} FPS)", va="center", fontsize=8)
    ax.set(xlabel="mean latency per frame [ms]", title="End-to-end latency by stage",
           xlim=(0, max(max(left), 1e-3) * 1.35))
    if stages:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(timed) > 2 else -0.3), ncol=len(stages),
                  fontsize=8)
    ax.grid(True, axis="x", linestyle="--")
    return fig


def _curves(report: Any, seqs: list[Any]) -> None:
    """success.png / precision.png / report.json: dt analyze over every row's and reference's result folder."""
    from droptrack.data.sequence import has_gt
    from droptrack.eval.report import analyze

    entries = [(r.name, r.result.output_dir) for r in report.rows if r.ok and r.result is not None]
    entries += [(f"{r.name} (PyTorch FP32)", r.result.output_dir) for r in report.references
                if r.row is None and r.result is not None]
    scorable = [s for s in seqs if has_gt(s)]
    if not entries or not scorable:
        return
    tag = report.data.tag
    protocol = "ostrack-ope" if tag.startswith(("got10k", "trackingnet")) else None   # AUC curves everywhere
    try:
        rep = analyze([p for _, p in entries], scorable, tag=tag, output_dir=report.output_dir,
                      names=[n for n, _ in entries], protocol=protocol, dataset=report.data.name)
    except OutputFull:   # the disk, not the results: the bench stops in one line (`run_bench`), as for any file
        raise
    except DropTrackError as exc:
        report.notes.append(f"no success plot: {exc}")
        return
    report.plots.update(rep.plots)


def drop_old_report(out: Path) -> None:
    """Remove a previous bench's reports and plots before a bench replaces (or with --resume continues) its row
    folders: killed after that, the folder held the old bench.json beside new results, and a resumed bench that drew
    no success or latency plot left the old ones beside its own report. bench.json goes first (one unlink each: the
    folder holds either the old report with the old results still whole, or no report)."""
    from droptrack.eval.report_plots import PLOT_FILES

    for name in ("bench.json", "bench.md", "report.json", "latency.png", *PLOT_FILES.values()):
        (out / name).unlink(missing_ok=True)


def write_bench(report: Any, seqs: list[Any]) -> Path:
    """Plots, bench.json and bench.md in the output folder; returns bench.json."""
    out = report.output_dir
    _curves(report, seqs)
    if latency_plot(out / "latency.png", report.rows) is not None:
        report.plots["latency"] = "latency.png"
    path = atomic_write_json(out / "bench.json", bench_dict(report))
    atomic_write_text(out / "bench.md", markdown(report))
    return path
