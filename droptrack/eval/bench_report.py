"""`dt bench` outputs: bench.json, bench.md, the rich table, latency.png (+ success/precision plots via dt analyze).

bench.json, schema_version 1 (keys are stable; new keys may be added without a version bump; NaN/inf -> null):
    schema_version      int, 1
    droptrack_version   str
    created             str, ISO 8601 UTC;  wall_s: float, the whole bench
    command             str: the command line ('' when called as a library)
    passed              bool: every row has status 'passed'
    machine             droptrack.eval.machine.describe_machine(): cpu, cpu_id (vendor, family, model, stepping:
                        'AMD EPYC' alone is any of five core generations) | null, cpu_int8 (the INT8 instruction
                        sets: INT8 speed depends on them, and without VNNI U8S8 GEMMs can saturate), cores,
                        usable_cores, memory_gb, os, python, loadavg_1m, gpu {name, capability, memory_gb, count, cuda,
                        driver} | null, jetson {model, l4t, power_mode, power_mode_id, maxn_mode} | null,
                        versions {droptrack, torch, onnxruntime, onnx, tensorrt, opencv, numpy}
    data                {kind: synthetic|dataset|video|folder, name, root, tag, ground_truth: dataset|reference,
                         n_sequences, n_frames, sequences: {name: frames}, split: str | null (a synthetic set's
                         split, from its synth.json), training_photos: bool (a synthetic train set: droptrack's
                         synthetic models, the default one too, learnt from its photos; a note says so)}
    settings            {device, threads (--threads as given; null: each row's default, its eval.threads), config,
                         warmup_frames, max_timed_frames, divergence_iou: 0.5,
                         tracker_overrides: {TEST key: value} | null (dt bench's extension options, every model row),
                         resume: bool (--resume given)}
    gates               {max_auc_drop: float|"inf"|null (given; AUC points; null: not given, the default per
                         precision applies; "inf": given as inf, no limit), max_auc_drop_defaults: {fp32, fp16, int8},
                         max_divergence: float|null (given; fraction), max_divergence_defaults: {fp32, fp16, int8},
                         min_fps: float|null}
    score_units         'fraction': accuracy scores are in [0, 1]; delta_auc_points and AUC drops are x100
    references          [{name, artifact, sha256, is_row: bool, result_dir, accuracy, noise_floor: null (no
                          --noise-floor) | {px, divergence, frames, sequences_diverged, sequences, result_dir,
                          divergence_on_target, frames_on_target}:
                          the reference against itself with px of state jitter per frame (eval.noise_floor)}]
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
                                   divergence_on_target (among the frames_on_target, where the reference's box
                                   has IoU >= 0.5 with the ground truth; null without ground truth),
                                   frames_on_target,
                                   delta_auc_ci: {delta, low, high, sequences, samples, level, seed, method} | null
                                   (points; paired bootstrap over sequences),
                                   per_sequence: {seq: {mean_iou, divergence, frames, delta_auc_points}}} | null,
                          gates: [{name: max_auc_drop|max_divergence|min_fps, threshold (float|"inf"), value,
                                   passed: bool|null, explicit}] (max_auc_drop value: -(CI lower end), the largest drop not ruled out),
                          eval: {result_dir, fps, fps_definition, wall_s, tracked: int (sequences tracked in this
                                 run), resumed: int (kept from an interrupted bench, --resume), threads: int
                                 (as run: --threads, else its default for this artifact)} | null,
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
Imports go one way: bench.py -> bench_report.py -> bench_view.py (the terminal; its table cells are bench.md's too)
-> bench_gates.py; bench_report.py -> bench_plot.py (latency.png).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from droptrack.artifact import atomic_write_json, atomic_write_text
from droptrack.errors import DropTrackError, OutputFull
from droptrack.eval.bench_gates import DEFAULT_MAX_AUC_DROP, DEFAULT_MAX_DIVERGENCE, gate_text
from droptrack.eval.bench_plot import latency_plot
from droptrack.eval.bench_view import HEADERS, data_size, fmt_number, gated, procedure, row_cells, setup_line
from droptrack.eval.report import json_safe

SCHEMA_VERSION = 1


def _limit(value: float | None) -> float | str | None:
    """A gate's limit for bench.json: an infinite one (--max-auc-drop inf: no limit) as "inf", since JSON has no inf
    and null there means 'not given' (the default per precision applied)."""
    return "inf" if value is not None and math.isinf(value) else value


def _row_dict(row: Any) -> dict[str, Any]:
    p = row.parity
    ev = None
    if row.result is not None:
        ev = {"result_dir": str(row.result.output_dir), "fps": row.result.fps,
              "fps_definition": row.result.fps_definition, "wall_s": row.result.wall_s,
              "tracked": len(row.result.tracked), "resumed": len(row.result.resumed), "threads": row.result.threads}
    return {"name": row.name, "artifact": row.artifact, "format": row.format, "precision": row.precision,
            "status": row.status, "gated": gated(row), "reason": row.reason, "size_mb": row.size_mb,
            "sha256": row.sha256,
            "checkpoint_sha256": row.checkpoint_sha256, "accuracy": row.accuracy or None,
            "latency": row.latency.to_dict() if row.latency is not None else None, "memory": row.memory,
            "parity": None if p is None else {
                "reference": p.reference, "reference_sha256": p.reference_sha256,
                "delta_auc_points": p.delta_auc_points, "mean_iou": p.mean_iou, "divergence": p.divergence,
                "frames": p.frames, "divergence_on_target": p.divergence_on_target,
                "frames_on_target": p.frames_on_target,
                "delta_auc_ci": p.ci.to_dict() if p.ci is not None else None,
                "per_sequence": p.per_sequence},
            "gates": [{"name": g.name, "threshold": _limit(g.threshold), "value": g.value, "passed": g.passed,
                       "explicit": g.explicit} for g in row.gates],
            "eval": ev, "procedure": procedure(row), "is_reference": row.is_reference, "runtime": row.runtime,
            "target_runtime": row.target_runtime, "latency_on_target": row.latency_on_target}


def bench_dict(report: Any) -> dict[str, Any]:
    """The bench.json object (schema in the module docstring)."""
    from droptrack import __version__
    from droptrack.eval.bench_reference import DIVERGENCE_IOU

    o = report.options
    refs = [{"name": r.name, "artifact": r.artifact, "sha256": r.sha256, "is_row": r.row is not None,
             "result_dir": str(r.result.output_dir) if r.result is not None else None, "accuracy": r.accuracy or None,
             "noise_floor": r.noise_floor.to_dict() if r.noise_floor is not None else None}
            for r in report.references]
    return json_safe({
        "schema_version": SCHEMA_VERSION, "droptrack_version": __version__, "created": report.created,
        "wall_s": report.wall_s, "command": o.command, "passed": report.passed, "machine": report.machine,
        "data": report.data.to_dict(),
        "settings": {"device": o.device, "threads": o.threads, "config": o.config, "warmup_frames": o.warmup,
                     "max_timed_frames": o.timed_frames, "divergence_iou": DIVERGENCE_IOU,
                     "tracker_overrides": o.ext or None, "resume": o.resume},
        "gates": {"max_auc_drop": _limit(o.max_auc_drop), "max_auc_drop_defaults": DEFAULT_MAX_AUC_DROP,
                  "max_divergence": o.max_divergence, "max_divergence_defaults": DEFAULT_MAX_DIVERGENCE,
                  "min_fps": _limit(o.min_fps)},
        "score_units": "fraction", "references": refs, "rows": [_row_dict(r) for r in report.rows],
        "plots": report.plots, "files": {"markdown": "bench.md", "analysis": "report.json", "results": "results"},
        "notes": report.notes})


def _floor_text(floor: Any) -> str:
    """', noise floor 1.2 % diverged at 0.01 px' for bench.md's reference line ('' without --noise-floor)."""
    if floor is None or floor.divergence is None:
        return ""
    return f", noise floor {100 * floor.divergence:.1f} % diverged at {floor.px:g} px"


def markdown(report: Any) -> str:
    """bench.md: the table, gates, reasons, machine, data, plots and the command that produced it."""
    d, o, m = report.data, report.options, report.machine
    head = "| " + " | ".join(HEADERS) + " |\n|" + "|".join("---" for _ in HEADERS) + "|\n"
    rows = "".join("| " + " | ".join(c.replace("|", "/") for c in row_cells(r)) + " |\n" for r in report.rows)
    gates = "".join(f"- {r.name}: " + "; ".join(f"{g.name} {'pass' if g.passed else 'FAIL' if g.passed is False else 'n/a'}"
                                              f" ({_gate_value(g)})" for g in shown) + "\n"
                    for r, shown in ((r, own_gates(r)) for r in report.rows) if shown)
    reasons = "".join(f"- {r.name}: {r.reason}\n" for r in report.rows if r.reason)
    refs = "".join(f"- `{r.artifact}` (sha256 {r.sha256[:12]}..., "
                   f"AUC {fmt_number(r.accuracy.get('auc'), '.2f', 100)}{_floor_text(r.noise_floor)})\n"
                   for r in report.references)
    plots = "".join(f"![{k}]({v})\n" for k, v in report.plots.items())
    procs = sorted({p for p in map(procedure, report.rows) if p})
    timed = [r for r in report.rows if r.latency is not None]   # an OpenCV row: every frame's call, no warm-up
    warm = sorted({r.latency.warmup_frames for r in timed if r.format != "opencv"}) or [o.warmup]
    cv = "; OpenCV baselines: every tracked frame" if any(r.format == "opencv" for r in timed) else ""
    gpu = m["gpu"]["name"] if m.get("gpu") else "none"
    jetson = f", Jetson {m['jetson']['model']} power mode {m['jetson']['power_mode']}" if m.get("jetson") else ""
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    # INT8 speed and numerics depend on the core and its instruction sets
    isa = (f", {m['cpu_id']}" if m.get("cpu_id") else "") + (f" [{m['cpu_int8']}]" if m.get("cpu_int8") else "")
    return (f"# dt bench\n\n{'PASSED' if report.passed else 'FAILED'} - {report.created}, {report.wall_s:.0f} s\n\n"
            + (f"Command: `{o.command}`\n\n" if o.command else "")
            + f"Data: {d.name} ({d.kind}, tag {d.tag}), {data_size(d)}, ground "
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
            f"({divergence_gate(o.max_divergence)}), and in how many of the sequences they are; RSS MB = this bench "
            "process's peak resident memory while the row ran (with what earlier rows left: a deployment's is "
            "dt run's).\n\n"
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


def _curves(report: Any, seqs: list[Any]) -> None:
    """success.png / precision.png / report.json: dt analyze over every row's and reference's result folder."""
    from droptrack.data.sequence import has_gt
    from droptrack.eval.report import analyze

    entries = [(f"{r.name} (reference)" if r.is_reference else r.name, r.result.output_dir) for r in report.rows
               if r.ok and r.result is not None]   # the reference a row is (dt demo's checkpoint) says so too
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


def drop_stale_rows(out: Path, keep: set[str]) -> list[str]:
    """Remove OUTPUT/results/<row> folders of an earlier bench whose rows this one has not (a rerun with fewer
    artifacts left them beside the new rows, one folder mixing two runs); only folders dt eval's manifest
    (eval.json) marks as results are removed, never another file or folder. Returns the names removed."""
    import shutil

    results = out / "results"
    stale = sorted(d.name for d in (results.iterdir() if results.is_dir() else ())
                   if d.name not in keep and not d.is_symlink() and d.is_dir() and (d / "eval.json").is_file())
    for name in stale:
        shutil.rmtree(results / name)
    return stale


def write_bench(report: Any, seqs: list[Any]) -> Path:
    """Plots, bench.json and bench.md in the output folder; returns bench.json."""
    out = report.output_dir
    _curves(report, seqs)
    if latency_plot(out / "latency.png", report.rows, setup_line(report)) is not None:
        report.plots["latency"] = "latency.png"
    path = atomic_write_json(out / "bench.json", bench_dict(report))
    atomic_write_text(out / "bench.md", markdown(report))
    return path
