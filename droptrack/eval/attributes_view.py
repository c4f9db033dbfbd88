"""Views of the per-attribute analysis: grouped bar PNG and rich tables (attributes, largest per-sequence gaps)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def attribute_plot(path: Path, ar: Any, title: str, colors: dict[str, Any] | None = None,
                   order: list[str] | None = None) -> Path:
    """attributes.png: attribute_figure, written atomically."""
    from droptrack.eval.plot_style import save_png

    return save_png(attribute_figure(ar, title, colors, order), path)


def attribute_figure(ar: Any, title: str, colors: dict[str, Any] | None = None,
                     order: list[str] | None = None) -> Any:
    """Grouped horizontal bars: the headline score (x100) of every tracker per attribute, with sequence counts;
    trackers in `order` (dt analyze: best overall first, top of each group) in their `colors` of the other plots."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from droptrack.eval.plot_style import place_legend, tracker_colors

    attrs = list(ar.scores)[::-1]
    trackers = order or list(next(iter(ar.scores.values())))
    colors = colors or tracker_colors(trackers)
    key = ar.keys[0]
    fig = Figure(figsize=(7.5, 0.32 * len(attrs) * max(1, len(trackers)) / 1.6 + 1.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(trackers))
    for j, t in enumerate(trackers):
        vals = [100 * (ar.scores[a][t].get(key) or 0.0) for a in attrs]
        ys = [i + 0.4 - height * (j + 0.5) for i in range(len(attrs))]   # first tracker on top
        ax.barh(ys, vals, height=height * 0.95, label=t, color=colors[t])
    ax.set_yticks(range(len(attrs)), [f"{a} ({ar.counts[a]})" for a in attrs], fontsize=8)
    ax.set(xlabel=f"{key.upper()} [%]", xlim=(0, 100), ylim=(-0.5, len(attrs) - 0.5), title=title)
    ax.grid(True, axis="x", linestyle="--")
    place_legend(ax, len(trackers), None)   # inside, it would hide the bottom bars
    return fig


def attribute_table(ar: Any) -> Any:
    """A rich Table: one row per attribute (sequence count), one headline-score column per tracker (x100)."""
    from rich.markup import escape
    from rich.table import Table

    trackers = list(next(iter(ar.scores.values())))
    key = ar.keys[0]
    table = Table(title=escape(f"{key.upper()} per attribute ({ar.source}; {ar.n_with_info} sequences with tags)"))
    table.add_column("Attribute")
    table.add_column("Seqs", justify="right")
    for t in trackers:   # names and tags are printed as they are, not read as rich markup ('tiny[fp16]')
        table.add_column(escape(t), justify="right")
    if len(trackers) >= 2:
        table.add_column(escape(f"{trackers[0]} - {trackers[1]}"), justify="right")
    for a, per in ar.scores.items():
        vals = [per[t].get(key) for t in trackers]
        cells = [_pct(v) for v in vals]
        if len(trackers) >= 2:
            ok = all(v is not None and math.isfinite(v) for v in vals[:2])
            cells.append(f"{100 * (vals[0] - vals[1]):+.1f}" if ok else "-")
        table.add_row(escape(a), str(ar.counts[a]), *cells)
    return table


def difference_table(rows: list[dict[str, Any]], first: str, second: str, key: str) -> Any:
    """A rich Table of the sequences where two trackers differ most (headline score x100)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"Largest per-sequence {key.upper()} differences: {first} vs {second}"))
    for h in ("Sequence", first, second, "Diff"):
        table.add_column(escape(h), justify="left" if h == "Sequence" else "right")
    for r in rows:
        table.add_row(escape(r["sequence"]), _pct(r[first]), _pct(r[second]), f"{100 * r['diff']:+.1f}")
    return table


def _pct(v: float | None) -> str:
    return f"{100 * v:.1f}" if v is not None and math.isfinite(v) else "-"
