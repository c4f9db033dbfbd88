"""attributes_radar.png: one closed polygon per tracker over the attributes (as pytracking's plot_attributes_radar).

Scale (stated in the figure): with two or more trackers every spoke is scaled on its own, its best score at the rim
(1) and its worst at the inner ring (INNER), linearly between, so that differences of a point or two show; the label
of each spoke gives its best / worst score and the tracker of each. The inner ring stands for MIN_SPAN below the
best at least, so that noise (an FP16 export 0.01 points off its FP32 reference in dt bench) is not blown up to
the whole radius; where every tracker scores the same on a spoke, all sit at the rim.
One tracker alone is drawn on the absolute scale (centre 0 %, rim 100 %). A missing or NaN score leaves a gap in
that tracker's polygon; a spoke with no score at all is labelled '-'.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

MIN_SPOKES = 3        # fewer attributes make no polygon: no radar is drawn (the bars still are)
INNER = 0.2           # radius of each spoke's worst score (relative scale); not 0, where polygons would collapse
RIM = 1.0             # radius of each spoke's best score
MIN_SPAN = 0.05       # the inner ring is at least this far below the best score (5 points x100)
LABEL_R = 1.14        # where the spoke labels start, outside the rim
NAME_MAX = 12         # characters of a tracker's name under a spoke (best / worst)
WRAP = 16             # characters per line of a spoke label


def spoke_radii(values: Sequence[float | None], absolute: bool) -> list[float]:
    """Radii of one spoke's scores (fractions, 0-1) under the module's scale rule; NaN where a score is missing."""
    vals = [float(v) if v is not None and math.isfinite(v) else math.nan for v in values]
    if absolute:
        return vals
    finite = [v for v in vals if not math.isnan(v)]
    if not finite:
        return vals
    hi = max(finite)
    lo = min(min(finite), hi - MIN_SPAN)
    return [INNER + (RIM - INNER) * (v - lo) / (hi - lo) for v in vals]


def wrap_label(text: str, width: int = WRAP) -> str:
    """Text broken into lines of about `width` characters at spaces, and after '_' or '-' (GOT-10k's
    'aspect_ratio_change' has no space), a longer word kept whole."""
    lines: list[str] = []
    for word in text.split():
        pieces = [p for p in re.split(r"(?<=[_-])", word) if p]
        for k, piece in enumerate(pieces):
            glue = "" if k else " "
            if lines and len(lines[-1]) + len(glue) + len(piece) <= width:
                lines[-1] += glue + piece
            else:
                lines.append(piece)
    return "\n".join(lines)


def short_name(name: str, width: int = NAME_MAX) -> str:
    """A tracker's name in a spoke label: cut to `width` characters with an ellipsis (the legend has more)."""
    from droptrack.eval.plot_style import plain

    text = plain(name)
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def radar_plot(path: Path, ar: Any, title: str, colors: dict[str, Any] | None = None,
               order: list[str] | None = None) -> Path | None:
    """attributes_radar.png: radar_figure, written atomically; None (nothing written) below MIN_SPOKES attributes."""
    from droptrack.eval.plot_style import save_png

    if len(ar.scores) < MIN_SPOKES:
        return None
    return save_png(radar_figure(ar, title, colors, order), path)


def radar_figure(ar: Any, title: str, colors: dict[str, Any] | None = None, order: list[str] | None = None) -> Any:
    """The radar of an AttributeReport's headline score: spokes clockwise from the top in the table's order, each
    labelled with its attribute, sequence count and best / worst score x100; trackers in `order` (best overall
    first, drawn on top) in their `colors` of the other plots. Each tracker's line has its name as gid."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from droptrack.eval.plot_style import legend_names, line_style, place_legend, plain, tracker_colors

    attrs = list(ar.scores)
    if len(attrs) < MIN_SPOKES:
        raise ValueError(f"a radar needs {MIN_SPOKES} attributes or more, got {len(attrs)}")
    trackers = order or list(next(iter(ar.scores.values())))
    colors = colors or tracker_colors(trackers)
    key = ar.keys[0]
    absolute = len(trackers) == 1
    n = len(attrs)
    theta = [2 * math.pi * i / n for i in range(n)]
    values = [[ar.scores[a].get(t, {}).get(key) for t in trackers] for a in attrs]
    radii = [spoke_radii(v, absolute) for v in values]             # [spoke][tracker]

    fig = Figure(figsize=(8.0, 7.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)                                       # clockwise, as a table is read
    ax.set_ylim(0, RIM)
    ax.set_xticks(theta, [""] * n)                                  # spokes drawn; labels placed below
    if absolute:
        ax.set_rgrids([0.25, 0.5, 0.75, 1.0], ["25", "50", "75", "100"], fontsize=7, color="0.4")
    else:
        ax.set_rgrids([INNER, (INNER + RIM) / 2, RIM], ["", "", "best"], fontsize=7, color="0.4")
    ax.set_rlabel_position(180 / n)                                  # between the first two spokes
    ax.grid(True, linestyle="--", linewidth=0.6)
    ax.spines["polar"].set_visible(False)

    position = {name: k for k, name in enumerate(colors)}
    polygons = [np.array([radii[i][j] for i in range(n)]) for j in range(len(trackers))]
    handles = []
    for j, t in enumerate(trackers):
        r = list(polygons[j])
        # over an identical polygon (an export and its reference): dashes whose gaps show the ones beneath
        twins = [k for k, other in enumerate(polygons) if np.array_equal(other, polygons[j], equal_nan=True)]
        k, m = twins.index(j), len(twins) - 1
        own = line_style(position.get(t, j))
        ax.plot(theta + theta[:1], r + r[:1], color=colors[t], linewidth=1.8, marker="o", markersize=3.5,
                linestyle=(3 * k, (3, 3 * m)) if k < m else own, zorder=3 + len(trackers) - j, clip_on=False,
                gid=t)   # the best on top
        if len(trackers) <= 4 and all(math.isfinite(x) for x in r):   # more fills turn the middle to mud
            ax.fill(theta, r, color=colors[t], alpha=0.06, zorder=2)
        handles.append(Line2D([], [], color=colors[t], linewidth=1.8, marker="o", markersize=3.5, linestyle=own))

    labels = []
    for i, a in enumerate(attrs):
        finite = [(v, t) for v, t in zip(values[i], trackers) if v is not None and math.isfinite(v)]
        if not finite:
            score = "-"
        elif absolute:
            score = f"{100 * finite[0][0]:.1f}"
        else:   # which tracker: the numbers alone did not say whose they were
            (hi, best), (lo, worst) = max(finite, key=lambda x: x[0]), min(finite, key=lambda x: x[0])
            score = f"{100 * hi:.1f} {short_name(best)} / {100 * lo:.1f} {short_name(worst)}"
        label = wrap_label(plain(f"{a} ({ar.counts.get(a, 0)})")) + "\n" + score
        s, c = math.sin(theta[i]), math.cos(theta[i])
        labels.append(ax.text(theta[i], LABEL_R, label, fontsize=8, linespacing=1.1, clip_on=False,
                              ha="left" if s > 0.2 else "right" if s < -0.2 else "center",
                              va="bottom" if c > 0.2 else "top" if c < -0.2 else "center"))
    if absolute:
        rule = f"{key.upper()} [%]: centre 0, rim 100; under each attribute (sequences): its score"
    else:
        rule = (f"{key.upper()} [%], each spoke scaled on its own: its best score at the rim, its worst or "
                f"{100 * MIN_SPAN:g} points below\nits best (the lower) at the inner ring; "
                "under each attribute (sequences): best / worst, with their trackers")
    short = legend_names(list(colors))   # long names cut in the middle, as in the other plots
    legend = place_legend(ax, handles, [short[t] for t in trackers], None)
    _place_around(fig, ax, labels, legend, plain(title), rule)
    return fig


def _place_around(fig: Any, ax: Any, labels: list[Any], legend: Any, title: str, rule: str) -> None:
    """The title above the highest spoke label, the scale rule below the lowest and the legend right of the
    rightmost (measured: the labels' size depends on how many lines they wrap to)."""
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    extents = [t.get_window_extent(renderer) for t in labels]
    to_points = 72.0 / fig.dpi
    above = max(0.0, max(e.y1 for e in extents) - box.y1) * to_points
    below = max(0.0, box.y0 - min(e.y0 for e in extents)) * to_points
    right = (max(e.x1 for e in extents) - box.x0) / box.width
    legend.set_bbox_to_anchor((max(1.02, right + 0.03), 1.0), transform=ax.transAxes)
    ax.set_title(title, pad=above + 10)
    ax.annotate(rule, xy=(0.5, 0), xycoords="axes fraction", xytext=(0, -below - 10), textcoords="offset points",
                ha="center", va="top", fontsize=8, color="0.3", annotation_clip=False)
