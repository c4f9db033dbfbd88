"""latency.png of `dt bench`: the mean pre / infer / post milliseconds of each timed row as stacked bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from droptrack.eval.plot_style import without_glyph_warnings


@without_glyph_warnings
def latency_plot(path: Path, rows: list[Any], setup: str = "") -> Path | None:
    """latency.png: latency_figure, written atomically (None when no row was timed)."""
    from droptrack.eval.plot_style import save_png

    fig = latency_figure(rows, setup)
    return None if fig is None else save_png(fig, path)


def _ms(v: float) -> str:
    """A latency to two significant decimals below 1 ms (MOSSE's 0.03 ms read '0.0 ms')."""
    return f"{v:.1f}" if v >= 1 else f"{v:.2f}"


def latency_figure(rows: list[Any], setup: str = "") -> Any:
    """Stacked horizontal bars of the mean pre / infer / post ms per row (one 'tracker' bar for OpenCV baselines);
    the legend names only the stages some row has; `setup` (device, machine, threads, data) under the title, so the
    PNG reads without bench.md. Stages are greys: the curves' tracker colours would read as rows. None when no row
    was timed."""
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
    stages = [(s, c, h) for s, c, h in (("pre", "#d9d9d9", "//"), ("infer", "#636363", ""),
                                        ("post", "#bdbdbd", ".."), ("tracker", "#969696", ""))
              if any(r.latency.stages_ms.get(s) for r in timed)]
    labels = {"pre": "pre (crop, normalise)", "infer": "infer (network)", "post": "post (decode, map back)"}
    for stage, color, hatch in stages:
        vals = [(r.latency.stages_ms.get(stage) or 0.0) for r in timed][::-1]
        ax.barh(names, vals, left=left, color=color, hatch=hatch, edgecolor="white", label=labels.get(stage, stage))
        left = [a + b for a, b in zip(left, vals)]
    for y, (total, r) in enumerate(zip(left, timed[::-1])):
        ax.text(total, y, f" {_ms(total)} ms ({r.latency.fps or 0:.0f} FPS)", va="center", fontsize=8)
    ax.set(xlabel="mean latency per frame [ms]", xlim=(0, max(max(left), 1e-3) * 1.35))
    ax.set_title("End-to-end latency by stage" + (f"\n{plain(setup)}" if setup else ""), fontsize=10)
    if stages:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(timed) > 2 else -0.3), ncol=len(stages),
                  fontsize=8)
    ax.grid(True, axis="x", linestyle="--")
    return fig
