"""The end-of-export summary: one table row per artifact and the next commands to run."""

from __future__ import annotations

from droptrack.export.pipeline import ExportReport

_STATUS = {"ok": "[green]ok[/]", "failed": "[red]FAILED[/]", "skipped": "[yellow]skipped[/]"}


def summary_table(report: ExportReport):
    """Rich table: artifact, precision, status, size MB, max error, cosine, box agreement, CE tokens, time.

    `box agreement` is the gated comparison (CE-aligned for FP16/INT8), `e2e boxes` against unconstrained PyTorch.
    """
    from rich.table import Table

    t = Table(title=f"dt export -> {report.output_dir}")
    for col, just in (("artifact", "left"), ("precision", "left"), ("status", "left"), ("size MB", "right"),
                      ("max error", "right"), ("cosine", "right"), ("box agreement", "right"), ("e2e boxes", "right"),
                      ("CE tokens", "right"), ("time s", "right")):
        t.add_column(col, justify=just)
    for r in report.results:
        p = r.parity
        tokens = "-"
        if p is not None and p.tokens:
            tokens = f"{p.token_agreement:.0%}"
        size = f"{r.size_mb:.1f}" if r.path.is_file() else "-"
        t.add_row(r.path.name, r.precision, _STATUS.get(r.status, r.status), size,
                  f"{p.max_abs:.1e}" if p else "-", f"{p.cosine:.6f}" if p else "-",
                  f"{p.box_agreement:.0%}" if p else "-", f"{p.e2e_box_agreement:.0%}" if p else "-", tokens,
                  f"{r.seconds:.1f}")
    return t


def notes(report: ExportReport) -> list[str]:
    """One-line notes: skipped engines, INT8 exclusions, CE choices that differ from PyTorch."""
    lines = list(dict.fromkeys(report.notes))
    for r in report.results:
        if r.precision == "int8" and r.name.endswith(".onnx"):
            lines += r.notes
        p = r.parity
        if p is not None and p.tokens and p.token_agreement < 1.0 and r.precision != "fp32":
            lines.append(f"{r.name}: candidate elimination kept {p.token_agreement:.0%} of PyTorch's tokens on the "
                         f"worst pair (near-tied attention); errors above are measured with PyTorch following the "
                         f"graph's choices, end-to-end box agreement {p.e2e_box_agreement:.0%}; judge tracking with "
                         "dt bench / dt eval")
    return lines


def next_commands(report: ExportReport) -> list[str]:
    """What to run next: track a video with the FP32 graph, benchmark every verified artifact against PyTorch."""
    ok = [r for r in report.results if r.ok]
    onnx = [r for r in ok if r.path.suffix == ".onnx"]
    engines = [r for r in ok if r.path.suffix == ".engine"]
    cmds = []
    if onnx:
        fp32 = next((r for r in onnx if r.precision == "fp32"), onnx[0])
        cmds.append(f"dt run VIDEO --model {fp32.path}")
        cmds.append("dt bench " + " ".join(str(r.path) for r in onnx))
    if engines:
        cmds.append(f"dt run VIDEO --model {engines[0].path} --device cuda")
        cmds.append("dt bench " + " ".join(str(r.path) for r in engines) + " --device cuda")
    return cmds
