"""What `dt bench` shows on the terminal (droptrack.eval.bench_report writes the files): a row's table cells
(bench.md's table too), the rich table and its title, the lines under it and the `dt run` command to try next."""

from __future__ import annotations

import math
from typing import Any

from droptrack.errors import plain_text, printable, shell_join
from droptrack.eval.bench_gates import divergence_spread
from droptrack.wording import counted

STATUS_GLYPH = {"passed": "✅", "gate_failed": "❎", "failed": "❌"}
HEADERS = ("Artifact", "Format", "Precision", "Status", "Size MB", "AUC", "ΔAUC", "ΔAUC 95% CI", "IoU vs ref",
           "Diverged", "ms p50", "ms p95", "ms p99", "model p50", "FPS", "RSS MB")


def fmt_number(v: float | None, spec: str, scale: float = 1.0, signed: bool = False) -> str:
    """A number as the table shows it; one that rounds to zero reads 0.00, not -0.00 (two AUCs equal but for the
    order of their float sums differ by 1e-14: '-0.00' read as a drop)."""
    if v is None or not math.isfinite(v):
        return "-"
    x = v * scale
    if float(format(x, spec)) == 0:
        x = 0.0
    return format(x, ("+" if signed else "") + spec)


def _ci(ci: Any) -> str:
    if ci is None:
        return "-"
    return f"[{fmt_number(ci.low, '.2f', signed=True)}, {fmt_number(ci.high, '.2f', signed=True)}]"


def _diverged(p: Any) -> str:
    """'2.4% (3/40)': the diverged-frame rate and in how many of the sequences it happened."""
    if p is None or p.divergence is None:
        return "-"
    k, n, _ = divergence_spread(p.per_sequence)
    return f"{p.divergence:.1%} ({k}/{n})" if n else f"{p.divergence:.1%}"


def gated(row: Any) -> bool:
    """Whether any gate was checked on the row (an OpenCV baseline has none unless --min-fps is given)."""
    return any(g.passed is not None for g in row.gates)


def procedure(row: Any) -> str | None:
    """The row's tracker settings in words (`TrackerExt.describe` of the sequences it tracked; None if none)."""
    procs = sorted(row.result.procedures) if row.result is not None else []
    return "; ".join(procs) or None


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
    timed = [*(fmt_number(e2e.get(p), ".2f") for p in ("p50", "p95", "p99")),
             fmt_number(lat.model_ms.get("p50") if lat else None, ".2f"), fmt_number(lat.fps if lat else None, ".1f")]
    if row.latency_on_target is False:   # another runtime emulated the graph: the note under the table says which
        timed = [t if t == "-" else t + "*" for t in timed]
    return [row.name, row.format, row.precision, status_cell(row),
            fmt_number(row.size_mb, ".1f"), fmt_number(row.accuracy.get("auc"), ".2f", 100),
            fmt_number(p.delta_auc_points if p else None, ".2f", signed=True), _ci(p.ci if p else None),
            fmt_number(p.mean_iou if p else None, ".3f"),
            _diverged(p), *timed, fmt_number(mem.get("peak_rss_mb"), ".0f")]


def data_size(data: Any) -> str:
    """'8 sequences, 320 frames' of a bench's data."""
    return f"{counted(len(data.sequences), 'sequence')}, {counted(data.n_frames, 'frame')}"


def title(report: Any) -> str:
    from droptrack.eval.machine import machine_line

    d = report.data
    return (f"dt bench: {d.name} ({data_size(d)}, ground truth: {d.ground_truth}) "
            f"on {report.options.device}; {machine_line(report.machine)}; {report.wall_s:.0f} s")


def setup_line(report: Any) -> str:
    """What the latency was measured on, for the latency plot: device, CPU, threads (each row's where they differ)
    and data."""
    from droptrack.cpu import cpu_label

    o, m = report.options, report.machine
    ran = {r.result.threads for r in report.rows if r.result is not None and r.result.threads}
    threads = counted(o.threads or next(iter(ran)), "thread") if o.threads or len(ran) == 1 else "threads per row"
    return f"{o.device}, {cpu_label(m.get('cpu'), m.get('cpu_id'))}, {threads}; {report.data.name}: " \
           f"{data_size(report.data)}"


def bench_table(report: Any) -> Any:
    """A rich Table like `yolo benchmark`'s, one row per artifact; at least as wide as its title, which rich wraps at
    the table's width (one OpenCV row's table cut '... 1 s' over two lines)."""
    from droptrack.eval.attributes_view import titled

    table = titled(title(report))
    rows = [row_cells(row) for row in report.rows]
    for h in HEADERS:   # the name folds only past 24 characters (the other columns left it 5 at 160 columns)
        table.add_column(h, justify="left" if h in ("Artifact", "Format", "Precision", "Status") else "right",
                         no_wrap=h != "Artifact", overflow="fold",
                         min_width=min(24, max((len(c[0]) for c in rows), default=8)) if h == "Artifact" else None)
    for cells in rows:
        table.add_row(plain_text(cells[0]), *cells[1:])   # a name like model[fp16] or run:smile:1 is text
    return table


def table_console(table: Any) -> Any:
    """A rich Console wide enough for the whole table: a narrower one (a pipe reads as 80 columns) squeezes the
    names, and one of a fixed width lost the right border when a row's cells were wide (a failed gate, a long CI)."""
    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(width=10_000)
    return Console(width=max(Console().width, Measurement.get(probe, probe.options, table).maximum))


def summary_lines(report: Any) -> list[str]:
    """Reasons of failed rows (each distinct one once), the reference(s), and where the files are (no empty line)."""
    from droptrack.eval.bench_rows import failure_lines

    lines = failure_lines(report.rows)
    lines += [f"reference: {r.artifact} (PyTorch FP32, AUC {fmt_number(r.accuracy.get('auc'), '.2f', 100)})"
              for r in report.references]
    # no ground truth: the reference at 95.24 against its own boxes read as a poor score on the clip
    if report.data is not None and report.data.ground_truth == "reference" and report.references:
        lines.append("no ground truth here: every row, the reference too, is scored against the reference's own "
                     "boxes, so AUC is agreement with it, not accuracy; 95.24 is the most it reaches (every frame at "
                     "IoU 1: the success curve's last threshold, 1.0, counts only overlaps above it)")
    elif report.data is not None and report.data.ground_truth == "reference":   # --tracker rows only: no reference
        lines.append("no ground truth here and no model to track the reference boxes: the --tracker rows are timed, "
                     "not scored (AUC -); pass an artifact too to score them against its reference's boxes")
    procs = sorted({p for p in map(procedure, report.rows) if p})
    lines += [f"tracker: {' / '.join(procs)}"] if procs else []
    lines += report.notes
    out = report.output_dir
    lines.append(f"report: {out / 'bench.md'}  json: {out / 'bench.json'}")
    lines += ["plots: " + "  ".join(str(out / p) for p in report.plots.values())] if report.plots else []
    return [printable(line) for line in lines]   # file names from elsewhere: no terminal escape sequences


def next_command(report: Any) -> str | None:
    """What to run next: `dt run` with the fastest artifact that passed (of those timed on their own runtime, when
    any is), on the bench's video from its first box
    (else VIDEO --init X,Y,W,H), with the bench's device, config and --trust-checkpoint (both for a checkpoint),
    threads (unless oversubscribed) and tracker-extension options; None when no artifact passed."""
    from droptrack.engine.threads import plan_threads
    from droptrack.runtime.extensions import option_args

    ok = [r for r in report.rows if r.status == "passed" and r.format != "opencv" and r.latency is not None]
    if not ok:
        return None
    # a graph another runtime emulated here (a TensorRT INT8 graph on ONNX Runtime's CPU) is not what to deploy here
    ok = [r for r in ok if r.latency_on_target is not False] or ok
    best, o = max(ok, key=lambda r: r.latency.fps), report.options
    threads = o.threads if o.threads and not plan_threads(o.threads).oversubscribed else None
    video = report.data.kind == "video" or report.data.one_source   # its first box too; else placeholders
    # for both (as dt export's): without --init, dt run on a machine without a display stops at the box
    source = [report.data.name, "--init", ",".join(f"{v:g}" for v in report.data.sequences[0].boxes[0])] if video \
        else ["VIDEO", "--init", "X,Y,W,H"]
    argv = ["dt", "run", *source, "--model", best.artifact, "--device", o.device,
            # dt run refuses --config with a graph or engine (it carries the config it was exported with)
            *(["--config", cfg] if (cfg := o.config_for(best.artifact)) else []),
            *(["--threads", str(threads)] if threads else []),
            *option_args(o.ext), *(["--trust-checkpoint"] if o.trust_for(best.artifact) else [])]
    return shell_join(argv)   # a path with control characters as $'...': text that pastes
