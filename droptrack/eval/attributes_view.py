"""Views of the per-attribute analysis: grouped bar PNG and rich tables (attributes, every sequence, largest
per-sequence gaps)."""

from __future__ import annotations

import math
from typing import Any

from droptrack.errors import plain_text
from droptrack.wording import counted


def attribute_figure(ar: Any, title: str, colors: dict[str, Any] | None = None,
                     order: list[str] | None = None) -> Any:
    """Grouped horizontal bars: the headline score (x100) of every tracker per attribute, with sequence counts;
    trackers in `order` (dt analyze: best overall first, top of each group) in their `colors` of the other plots."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from droptrack.eval.plot_style import legend_names, place_legend, plain, tracker_colors

    attrs = list(ar.scores)[::-1]
    trackers = order or list(next(iter(ar.scores.values())))
    colors = colors or tracker_colors(trackers)
    key = ar.keys[0]
    fig = Figure(figsize=(7.5, 0.32 * len(attrs) * max(1, len(trackers)) / 1.6 + 1.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(trackers))
    bars = []
    for j, t in enumerate(trackers):
        raw = [ar.scores[a][t].get(key) for a in attrs]
        vals = [100 * v if v is not None and math.isfinite(v) else 0.0 for v in raw]
        ys = [i + 0.4 - height * (j + 0.5) for i in range(len(attrs))]   # first tracker on top
        bars.append(ax.barh(ys, vals, height=height * 0.95, label=t, color=colors[t]))
        for y, v in zip(ys, raw):   # no score (NaN, none) read as an empty slot, as a score of 0 does
            if v is None or not math.isfinite(v):
                ax.text(0.5, y, "n/a", va="center", fontsize=6, color=colors[t])
    ax.set_yticks(range(len(attrs)), [plain(f"{a} ({ar.counts[a]})") for a in attrs], fontsize=8)
    ax.set(xlabel=f"{key.upper()} [%]", xlim=(0, 100), ylim=(-0.5, len(attrs) - 0.5), title=plain(title))
    ax.set_ylabel("attribute (sequences with it)", fontsize=8)
    ax.grid(True, axis="x", linestyle="--")
    short = legend_names(list(colors))   # long names cut in the middle, as in the other plots
    place_legend(ax, bars, [short[t] for t in trackers], None)   # inside, it would hide the bottom bars
    return fig


def attribute_table(ar: Any) -> Any:
    """A rich Table: one row per attribute (sequence count), one headline-score column per tracker (x100), in the
    order the folders were given; with more than two trackers the columns are T1, T2, ... and the caption names
    them (full names did not fit an 80-column terminal and were cut to 'dro…')."""
    from rich.text import Text

    trackers = list(next(iter(ar.scores.values())))
    key = ar.keys[0]
    heads = trackers if len(trackers) <= 2 else [f"T{i}" for i in range(1, len(trackers) + 1)]
    tagged = counted(ar.n_with_info, "sequence")
    table = titled(f"{key.upper()} per attribute ({ar.source}; {tagged} with tags)")
    table.add_column("Attribute", min_width=longest_word(ar.scores))
    number_column(table, "Seqs")
    for h in heads:   # names and tags are printed as they are, not read as rich markup ('tiny[fp16]')
        number_column(table, plain_text(h), "100.0")
    if len(trackers) >= 2:
        number_column(table, plain_text(f"{heads[0]} - {heads[1]}"), "+100.0")
    for a, per in ar.scores.items():
        vals = [per[t].get(key) for t in trackers]
        cells = [_pct(v) for v in vals]
        if len(trackers) >= 2:
            ok = all(v is not None and math.isfinite(v) for v in vals[:2])
            cells.append(f"{100 * (vals[0] - vals[1]):+.1f}" if ok else "-")
        table.add_row(plain_text(a), str(ar.counts[a]), *cells)
    if heads != trackers:
        table.caption = Text("\n").join(plain_text(f"{h}: {t}") for h, t in zip(heads, trackers))
        table.caption_justify = "left"
    return table


def titled(title: str, **kwargs: Any) -> Any:
    """A rich Table at least as wide as its title (plain text), which rich wraps at the table's width: a narrow
    table printed 'Largest per-sequence AUC differences: kcf vs' and 'default' on two lines (dt bench's too)."""
    from rich.table import Table

    heading = plain_text(title)
    return Table(title=heading, min_width=heading.cell_len, **kwargs)


def number_column(table: Any, header: Any, widest: str = "") -> None:
    """A right-aligned column at least as wide as its widest number and its header's longest word, so that a narrow
    terminal never cuts a number to '+21…' (other columns wrap first)."""
    table.add_column(header, justify="right", min_width=max(len(widest), longest_word([header])))


def difference_table(rows: list[dict[str, Any]], first: str, second: str, key: str) -> Any:
    """A rich Table of the sequences where two trackers differ most (headline score x100), largest |diff| first."""
    table = titled(f"Largest per-sequence {key.upper()} differences: {first} vs {second}",
                   caption=plain_text(f"Diff = {first} - {second}; largest difference either way first"))
    table.add_column("Sequence", min_width=longest_word(r["sequence"] for r in rows))
    for h in (first, second):
        table.add_column(plain_text(h), justify="right")
    number_column(table, "Diff", "+100.0")
    for r in rows:
        table.add_row(plain_text(r["sequence"]), _pct(r[first]), _pct(r[second]), f"{100 * r['diff']:+.1f}")
    return table


def sequence_table(report: Any) -> Any:
    """A rich Table of every scored sequence (in the dataset's order) with each tracker's headline score (x100), as
    pytracking's print_per_sequence_results and pysot-toolkit's --show_video_level; columns as attribute_table's
    (T1, T2, ... and a key for more than two trackers, the first two's difference)."""
    from rich.text import Text

    from droptrack.eval.attributes import headline_key

    key = headline_key(report.protocol)
    trackers = [t.name for t in report.trackers]
    scores = [t.result.per_sequence() for t in report.trackers]
    heads = trackers if len(trackers) <= 2 else [f"T{i}" for i in range(1, len(trackers) + 1)]
    table = titled(f"{key.upper()} per sequence ({counted(len(report.sequences), 'sequence')})")
    table.add_column("Sequence", min_width=longest_word(report.sequences))
    for h in heads:
        number_column(table, plain_text(h), "100.0")
    if len(trackers) >= 2:
        number_column(table, plain_text(f"{heads[0]} - {heads[1]}"), "+100.0")
    for name in report.sequences:
        vals = [per.get(name, {}).get(key) for per in scores]
        cells = [_pct(v) for v in vals]
        if len(trackers) >= 2:
            ok = all(v is not None and math.isfinite(v) for v in vals[:2])
            cells.append(f"{100 * (vals[0] - vals[1]):+.1f}" if ok else "-")
        table.add_row(plain_text(name), *cells)
    if heads != trackers:
        table.caption = Text("\n").join(plain_text(f"{h}: {t}") for h, t in zip(heads, trackers))
        table.caption_justify = "left"
    return table


def longest_word(texts: Any) -> int:
    """The longest word of the texts: a column's width below which rich cuts a word to '…'."""
    return max((len(w) for t in texts for w in str(t).split()), default=1)


def print_items(console: Any, items: list[Any]) -> None:
    """Print dt analyze's tables and lines. A table that the console cannot fit without cutting a cell is printed
    at its natural width instead (a pipe is 80 columns wide and 8 trackers' columns do not fit: rich cut names and
    numbers to '…'); a narrower terminal wraps such lines itself, which loses nothing. Lines are printed as they are
    (paths are not rich markup), control characters escaped."""
    from rich.console import Console
    from rich.measure import Measurement

    from droptrack.errors import print_plain

    for item in items:
        if isinstance(item, str):   # names files and sequences: control characters escaped
            print_plain(console, item)
            continue
        need = Measurement.get(console, console.options.update_width(10_000), item)
        wide = console if need.minimum < console.width else Console(width=need.maximum, file=console.file,
                                                                     color_system=console.color_system,
                                                                     force_terminal=console.is_terminal)
        wide.print(item)


def _pct(v: float | None) -> str:
    return f"{100 * v:.1f}" if v is not None and math.isfinite(v) else "-"
