"""The end-of-export summary: one table row per artifact and the next commands to run."""

from __future__ import annotations

from pathlib import Path

from droptrack.errors import plain_text, shell_join
from droptrack.export.results import ExportReport
from droptrack.export.workdir import ORT_FP32

_STATUS = {"ok": "[green]ok[/]", "failed": "[red]FAILED[/]", "skipped": "[yellow]skipped[/]"}


def summary_table(report: ExportReport):
    """Rich table: artifact, precision, status, size MB, max error, cosine, box agreement, CE tokens, time.

    `box agreement` is the gated comparison (CE-aligned for FP16/INT8), `e2e boxes` against unconstrained PyTorch.
    """
    from rich.table import Table

    t = Table(title=plain_text(f"dt export -> {report.output_dir}"))   # the user's folder, as text
    for col, just in (("artifact", "left"), ("precision", "left"), ("status", "left"), ("size MB", "right"),
                      ("max error", "right"), ("cosine", "right"), ("box agreement", "right"), ("e2e boxes", "right"),
                      ("CE tokens", "right"), ("time s", "right")):
        t.add_column(col, justify=just, no_wrap=col in ("artifact", "status"))   # names whole: they are files
    for r in report.results:
        p = r.parity
        tokens = "-"
        if p is not None and p.tokens:
            tokens = f"{p.token_agreement:.0%}"
        size = f"{r.size_mb:.1f}" if r.path.is_file() else "-"
        status = _STATUS.get(r.status, r.status) + (f" ({r.step})" if r.step else "")   # the step that failed
        t.add_row(plain_text(r.path.name), r.precision, status, size,   # an engine is named after the user's graph
                  f"{p.max_abs:.1e}" if p else "-", f"{p.cosine:.6f}" if p else "-",
                  f"{p.box_agreement:.0%}" if p else "-", f"{p.e2e_box_agreement:.0%}" if p else "-", tokens,
                  f"{r.seconds:.1f}")
    return t


def _checkpoint_of(path: Path) -> str:
    """The checkpoint sha256 a droptrack graph's metadata, engine sidecar (given the engine or the sidecar) or
    model.safetensors' metadata names; '' where none (not ours)."""
    import json

    from droptrack.engine.tensorrt_backend import sidecar_fields, sidecar_path
    from droptrack.export.onnx import read_metadata
    from droptrack.export.workdir import weights_metadata

    try:
        if path.name.endswith(".onnx"):
            other = read_metadata(path).checkpoint_sha256
        elif path.suffix == ".safetensors":
            meta = weights_metadata(path)
            info = json.loads(meta.get("meta", "{}")) if meta.get("format") == "droptrack" else {}
            other = info.get("checkpoint_sha256", "") if isinstance(info, dict) else ""
        else:
            meta = sidecar_fields(path if path.suffix == ".json" else sidecar_path(path)).get("meta")
            other = meta.get("checkpoint_sha256", "") if isinstance(meta, dict) else ""
    except Exception:  # noqa: BLE001 - not a droptrack artifact (or unreadable): not ours to judge
        return ""
    return other if isinstance(other, str) else ""   # a number there: not a sidecar of ours


def other_checkpoints(folder: Path, sha: str) -> dict[str, str]:
    """{name: checkpoint sha256} of the graphs, engines and model.safetensors in `folder` that an export of another
    checkpoint wrote: read when an export starts, so that the ones it then replaces are named (`replaced_note`)."""
    paths = [*_artifacts(folder), *folder.glob("*.safetensors")] if folder.is_dir() else []
    return {p.name: other for p in paths if (other := _checkpoint_of(p)) and other != sha}


def replaced_note(report: ExportReport, before: dict[str, str]) -> list[str]:
    """The files this export rewrote that held another checkpoint's export (`other_checkpoints` at its start): they
    were replaced without a word, so a folder one deployed from changed model unnoticed."""
    written = {Path(r.path).name for r in report.results if r.ok and r.path is not None}
    gone = [f"{name} (checkpoint {before[name][:12]})" for name in sorted(written & before.keys())]
    return [f"replaced {', '.join(gone)} of an export of another checkpoint in {report.output_dir}"] if gone else []


def _search_report_of(path: Path) -> str | None:
    """The checkpoint an `auto_precision_<target>.json` belongs to: the one it names, else (an older droptrack's
    report) the one of the INT8 graph it was written with, beside it; None where neither tells."""
    from droptrack.engine.tensorrt_backend import sidecar_fields
    from droptrack.export.workdir import INT8_FILENAMES

    named = sidecar_fields(path).get("checkpoint_sha256")   # a JSON object of a few KB, read as a sidecar is
    if isinstance(named, str) and named:
        return named
    graph = INT8_FILENAMES.get(path.stem.removeprefix("auto_precision_"))
    for g in [path.with_name(graph), path.with_name(graph + ".failed")] if graph else []:
        if g.is_file() and (sha := _checkpoint_of(g)):
            return sha
    return None


def _artifacts(folder: Path) -> list[Path]:
    """The graphs and engines directly in `folder`, by name."""
    return sorted([*folder.glob("*.onnx"), *folder.glob("*.engine")])


def leftovers(report: ExportReport) -> tuple[str, list[tuple[str, str | None]]]:
    """(this export's checkpoint sha256, [(name, its checkpoint; None: cannot be told)]) of the files an export
    writes that lie in the output folder and this export did not rewrite: graphs, engines and their sidecars,
    *.safetensors (those with droptrack metadata) and the precision-search reports `auto_precision_<target>.json`."""
    from droptrack.export.workdir import INT8_FILENAMES

    fp32 = next((r for r in report.results if r.precision == "fp32" and r.meta is not None), None)
    sha = fp32.meta.checkpoint_sha256 if fp32 is not None else ""
    folder = report.output_dir
    if not sha or not folder.is_dir():
        return sha, []
    written = {r.path.name for r in report.results}
    written |= {n + ".json" for n in written if ".engine" in n}   # a sidecar goes with its engine
    written |= {f"auto_precision_{t}.json" for t, graph in INT8_FILENAMES.items()   # written with its INT8 graph,
                if any(r.name == graph for r in report.results)}                     # or removed
    paths = {*_artifacts(folder), *folder.glob("*.engine.json"), *folder.glob("*.safetensors"),
             *folder.glob("auto_precision_*.json")}
    found = []
    for path in sorted(p for p in paths if p.name not in written and p.is_file()):   # a pipe would block
        if path.name.startswith("auto_precision_") and path.suffix == ".json":
            found.append((path.name, _search_report_of(path)))
        elif other := _checkpoint_of(path):
            found.append((path.name, other))
    return sha, found


def stale_artifacts(report: ExportReport) -> list[str]:
    """Files an export writes, left in the output folder by an export of another checkpoint (or of none that can be
    told: an older search report without its graph) and not rewritten by this one: named, never deleted, so nobody
    benchmarks or deploys them as this checkpoint's."""
    sha, found = leftovers(report)
    stale = [f"{name} ({'checkpoint ' + other[:12] if other else 'checkpoint unknown'})"
             for name, other in found if other != sha]
    if not stale:
        return []
    whose = "another checkpoint" + (" or of one it cannot tell" if any(o is None for _, o in found) else "")
    ort = any(name == ORT_FP32 for name, other in found if other != sha)   # re-exported by a flag, not a precision
    return [f"{report.output_dir} also holds artifacts of {whose}, not rewritten by this export: "
            f"{', '.join(stale)}; re-export those precisions" + (" (model_ort.onnx: with --ort)" * ort)
            + " or move them away before dt bench / dt run"]


def earlier_run_files(report: ExportReport) -> list[str]:
    """Files an earlier export of this same checkpoint left in the output folder that this one did not rewrite (its
    `--int8` graphs when only `--fp16` is asked now): named, so nobody takes them for this run's, made with these
    options."""
    sha, found = leftovers(report)
    kept = [name for name, other in found if other == sha]
    if not kept:
        return []
    return [f"{report.output_dir} still holds files of an earlier export of this checkpoint that this one did not "
            f"rewrite: {', '.join(kept)}; they come from that earlier run (same checkpoint, maybe other options), not "
            "from this one"]


def mixed_checkpoints(folder: Path) -> str:
    """'' or a clause naming the checkpoints whose artifacts an interrupted export left side by side in `folder` (its
    new model.onnx beside an earlier export's FP16/INT8 graphs): only a finished export named them."""
    by_sha: dict[str, list[str]] = {}
    for path in _artifacts(folder) if folder.is_dir() else []:
        if sha := _checkpoint_of(path):
            by_sha.setdefault(sha, []).append(path.name)
    if len(by_sha) < 2:
        return ""
    groups = "; ".join(f"checkpoint {sha[:12]}: {', '.join(names)}" for sha, names in by_sha.items())
    return (f"; {folder} now holds artifacts of {len(by_sha)} checkpoints ({groups}): do not bench or deploy it "
            "before the rerun has finished")


def notes(report: ExportReport) -> list[str]:
    """One-line notes: skipped engines, INT8 exclusions, CE choices that differ from PyTorch, files left by an export
    of another checkpoint or an earlier one of this checkpoint."""
    lines = list(dict.fromkeys(report.notes)) + stale_artifacts(report) + earlier_run_files(report)
    for r in report.results:
        if (r.precision == "int8" or r.name == ORT_FP32) and r.name.endswith(".onnx"):
            lines += r.notes
        p = r.parity
        if p is not None and p.tokens and p.token_agreement < 1.0 and r.precision != "fp32":
            lines.append(f"{r.name}: candidate elimination kept {p.token_agreement:.0%} of PyTorch's tokens on the "
                         f"worst pair (near-tied attention); errors above are measured with PyTorch following the "
                         f"graph's choices, end-to-end box agreement {p.e2e_box_agreement:.0%}; judge tracking with "
                         "dt bench / dt eval")
    return lines


def next_commands(report: ExportReport) -> list[str]:
    """What to run next: track a video with the FP32 graph (model_ort.onnx when written), benchmark every verified
    artifact against PyTorch."""
    ok = [r for r in report.results if r.ok]
    onnx = [r for r in ok if r.path.suffix == ".onnx"]
    engines = [r for r in ok if r.path.suffix == ".engine"]
    def paths(rs: list) -> str:   # quoted: the line is copied into a shell
        return shell_join(r.path for r in rs)

    cmds = []
    if onnx:
        fp32 = next((r for r in onnx if r.name == ORT_FP32), None) or \
            next((r for r in onnx if r.precision == "fp32"), onnx[0])   # model_ort.onnx: the faster one to track with
        cmds.append(f"dt run VIDEO --model {paths([fp32])} --init X,Y,W,H")
        cmds.append("dt bench " + paths(onnx))
    if engines:
        cmds.append(f"dt run VIDEO --model {paths(engines[:1])} --device cuda --init X,Y,W,H")
        cmds.append("dt bench " + paths(engines) + " --device cuda")
    return cmds


def interrupted_line(graph: bool, engine: bool, auto_precision: bool, saved: bool = True) -> str:
    """What an interrupted `dt export` left and how to go on, worded for its path: `graph` (`dt export GRAPH.onnx
    --engine`: built under its final name, no parity check, so no `.unchecked`), `engine` and `auto_precision` (the
    checkpoint export's --engine and --auto-precision); `saved`: the output folder is there (a stop before its
    first file removes the folder it made)."""
    if not graph and not saved:
        return "interrupted before any file was written: nothing saved; run the same command to start"
    if graph:
        return ("interrupted: the engine build did not finish (an engine left beside the graph without its finished "
                "sidecar is refused, never run); run the same command to build it (a plan already built is reused "
                "from the engine cache)")
    resumes = [what for what, on in (("checks that engine", engine),
                                      ("continues an --auto-precision search from its journal", auto_precision)) if on]
    return ("interrupted: the files written so far are complete"
            + (" (an engine whose check did not finish is left as NAME.engine.unchecked)" if engine else "")
            + (f"; run the same command to resume (it {' and '.join(resumes)}; the graphs are exported again)"
               if resumes else "; run the same command to export again (it starts over: the graphs are made again)"))
