"""Views of the per-attribute analysis: grouped bar PNG and rich tables (attributes, largest per-sequence gaps)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from droptrack.artifact import atomic_write_bytes


def attribute_plot(path: Path, ar: Any, title: str) -> Path:
    """Grouped horizontal bars: the headline score (x100) of every tracker per attribute, with sequence counts."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    attrs = list(ar.scores)[::-1]
    trackers = list(next(iter(ar.scores.values())))
    key = ar.keys[0]
    fig = Figure(figsize=(7.5, 0.32 * len(attrs) * max(1, len(trackers)) / 1.6 + 1.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(trackers))
    for j, t in enumerate(trackers):
        vals = [100 * (ar.scores[a][t].get(key) or 0.0) for a in attrs]
        ys = [i + 0.4 - height * (j + 0.5) for i in range(len(attrs))]   # first tracker on top
        ax.barh(ys, vals, height=height * 0.95, label=t)
    ax.set_yticks(range(len(attrs)), [f"{a} ({ar.counts[a]})" for a in attrs], fontsize=8)
    ax.set(xlabel=f"{key.upper()} [%]", xlim=(0, 100), title=title)
    ax.grid(True, axis="x", linestyle="--")
    ax.legend(loc="lower right", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


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
