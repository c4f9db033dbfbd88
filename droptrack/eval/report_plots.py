"""dt analyze's plots: success, precision and normalized precision curves (pytracking style), per-attribute bars.

Every tracker keeps one colour in every plot (its place in the order the folders were given), so a curve can be
matched across the plots whatever each one's ranking. Legends list the trackers best first; with more than a few
trackers or a long name (plot_style.place_legend) the legend goes right of the axes, where it covers no data.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from droptrack.errors import InputError, folder_where_a_file_goes, printable, shell_quote
from droptrack.artifact import write_temp
from droptrack.eval.plot_style import (drawn_here, legend_names, line_style, place_legend, plain, png_bytes,
                                       tracker_colors, without_glyph_warnings)

NEAR = 0.01   # curves this close (1 point of 100, a 2-px line's width) at most thresholds hide each other: dashed
PLOT_FILES = {"success": "success.png", "precision": "precision.png", "norm_precision": "norm_precision.png",
              "attributes": "attributes.png", "attributes_radar": "attributes_radar.png"}
TITLES = {"success": ("Success plot", "Overlap threshold", "Overlap Precision [%]"),
          "precision": ("Precision plot", "Location error threshold [pixels]", "Distance Precision [%]"),
          "norm_precision": ("Normalized precision plot", "Normalized location error threshold",
                             "Distance Precision [%]")}


def curve_figure(title: str, xlabel: str, ylabel: str, score_name: str,
                 series: list[tuple[str, np.ndarray, np.ndarray, float]], colors: dict[str, Any]) -> Any:
    """One curve per (name, x, y, score), best score first in the legend and drawn on top, labelled
    'name [score x100]' (a long name cut in its middle: `legend_names`). Curves that lie on each other over most
    thresholds (an export and its reference in dt bench, parting at a few) are dashed over each other so that every
    colour shows (the ones beneath were hidden)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(6.4, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    position = {n: i for i, n in enumerate(colors)}
    order = sorted(series, key=lambda s: -s[3] if math.isfinite(s[3]) else math.inf)
    groups: list[list[int]] = []   # curves on a group's first one (within NEAR) over most thresholds: twins
    for rank, (_, _, y, _) in enumerate(order):
        near = next((g for g in groups if np.isclose(order[g[0]][2], y, rtol=0, atol=NEAR, equal_nan=True).mean()
                     >= 0.5), None)
        if near is None:
            groups.append([rank])
        else:
            near.append(rank)
    handles, labels, short = [], [], legend_names(list(colors))   # every tracker: the same label in every plot
    for rank, (name, x, y, score) in enumerate(order):   # the best on top where curves overlap
        twins = next(g for g in groups if rank in g)
        j, m = twins.index(rank), len(twins) - 1
        # over an identical curve: dashes whose gaps show the next ones in turn, the lowest-ranked one solid
        own = line_style(position[name])
        ax.plot(x, 100.0 * y, linewidth=2, color=colors[name], zorder=2 + len(order) - rank,
                linestyle=(3 * j, (3, 3 * m)) if j < m else own)
        # the legend's sample in the tracker's own style: the short sample of a sparse dash could be all gap
        handles.append(Line2D([], [], linewidth=2, color=colors[name], linestyle=own))
        labels.append(f"{short[name]} [{100 * score:.1f}]" if math.isfinite(score) else f"{short[name]} [-]")
    xs = series[0][1]
    ax.set(title=plain(title), xlabel=xlabel, ylabel=ylabel, xlim=(float(xs[0]), float(xs[-1])), ylim=(0, 100))
    ax.grid(True, linestyle="--")
    place_legend(ax, handles, labels, "best", score_name)   # where it covers the fewest points of the curves
    return fig


@without_glyph_warnings
def draw_plots(report: Any, columns: list[tuple[str, str]], legend_titles: dict[Any, str]) -> dict[str, bytes]:
    """success.png, precision.png, norm_precision.png (as OSTrack's analysis draws; when the protocol has those
    curves), attributes.png and, with 3 attributes or more, attributes_radar.png, as {file name: PNG bytes}, named
    in report.plots (`publish` writes them)."""
    from droptrack.eval.attributes_view import attribute_figure
    from droptrack.eval.radar_view import MIN_SPOKES, radar_figure

    files: dict[str, bytes] = {}
    colors = tracker_colors([t.name for t in report.trackers])
    for kind, (header, key) in zip(TITLES, columns):   # the first columns: success, precision, norm. precision
        if kind not in report.trackers[0].result.curves():
            continue
        series = [(t.name, *t.result.curves()[kind], t.result.scores()[key]) for t in report.trackers]
        title, xlabel, ylabel = TITLES[kind]
        label = legend_titles.get((report.protocol.endswith("-ope"), key), header)
        fig = curve_figure(f"{title} on {report.dataset} ({report.protocol})", xlabel, ylabel, label, series, colors)
        files[PLOT_FILES[kind]] = png_bytes(fig)
        report.plots[kind] = PLOT_FILES[kind]
    if report.attributes is not None and report.attributes.scores:
        headline = {t.name: t.result.scores()[columns[0][1]] for t in report.trackers}
        order = sorted(headline, key=lambda n: -headline[n] if math.isfinite(headline[n]) else math.inf)
        title = f"Per attribute on {report.dataset}"
        files[PLOT_FILES["attributes"]] = png_bytes(attribute_figure(report.attributes, title, colors, order))
        report.plots["attributes"] = PLOT_FILES["attributes"]
        if len(report.attributes.scores) >= MIN_SPOKES:   # same trackers, colours and order as the bars
            files[PLOT_FILES["attributes_radar"]] = png_bytes(radar_figure(report.attributes, title, colors, order))
            report.plots["attributes_radar"] = PLOT_FILES["attributes_radar"]
    return files


def publish(out: Path, files: dict[str, bytes]) -> None:
    """Write dt analyze's files (the plots, then report.json, which names them) into `out` as one set: each one into
    a temporary `.NAME.<random>.tmp` first, and only once all are written are they renamed onto their names
    (report.json last) and the plots of an earlier dt analyze there that this run does not draw removed: those
    carrying its mark (`drawn_here`), never a user's figure of the same name. A full disk (or an error) while
    writing leaves the earlier report and plots as they were (a set half replaced was one report.json describing
    other plots); the temporaries a killed run left go."""
    earlier = (out / "report.json").is_file()
    for name in {"report.json", *PLOT_FILES.values(), *files}:   # a killed dt analyze's temporaries
        for tmp in out.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)
    kept = (f"the earlier report and plots in '{out}' are kept as they were" if earlier else
            f"none of this run's files was moved into place in '{out}'")
    check_replaceable(out, files)   # before any is replaced: a failed rename left the set half replaced
    out.mkdir(parents=True, exist_ok=True)
    staged: dict[str, Path] = {}
    try:
        for name, data in files.items():
            staged[name] = write_temp(out / name, data, kept)
        for name in [n for n in staged if n != "report.json"]:
            os.replace(staged[name], out / name)
            del staged[name]
        for name in PLOT_FILES.values():
            if name not in files and (out / name).is_file() and drawn_here(out / name):   # never a user's figure
                (out / name).unlink()
        if "report.json" in staged:
            os.replace(staged.pop("report.json"), out / "report.json")
    finally:   # no temporary left behind, also where a write or a rename failed
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


def check_replaceable(out: Path, names: Iterable[str], locked: bool = True) -> None:
    """Each of `names` in `out` can be replaced: not a folder, and (`locked`; as root, whom permission bits do not
    stop) not locked against changes (an immutable file or a read-only mount); one-line errors."""
    for name in names:
        target = out / name
        if target.is_dir():
            raise InputError(folder_where_a_file_goes(target))
        if locked and getattr(os, "geteuid", lambda: -1)() == 0 and target.is_file() and not os.access(target, os.W_OK):
            raise InputError(f"cannot change '{target}' (Operation not permitted): it or its folder is locked against "
                             "changes (chattr +i, a read-only mount); unlock it or pass another path")


def analyze_stopped_line(exc: KeyboardInterrupt, out: Path) -> str:
    """What `dt analyze` says when stopped (Ctrl-C, SIGTERM): its report.json, the last file it writes, is not
    written, the result folders are only read, and the same command writes the report."""
    signum = getattr(exc, "signum", 2)
    what = f"stopped by {exc}" if signum != 2 else "interrupted"
    kept = "the earlier report there is kept" if (out / "report.json").is_file() else "none was written"
    return (f"{what} before the report in '{printable(out)}' was complete ({kept}; the result folders are only "
            "read); run the same command to write it")


def check_analysis_folder(out: Path) -> None:
    """dt analyze's --output: a report.json or plot of its names there that no dt analyze wrote (a user's figure, a
    tool's report) is refused before any work, not replaced; its own earlier files (a rerun) are fine."""
    import json

    if any((out / n).is_file() for n in ("eval.json", "bench.json")):
        return   # that command's folder: refused by name where the output is checked (paths.check_not_results)
    report = out / "report.json"
    ours = False
    if report.is_file():
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):   # RecursionError: JSON nested too deeply
            data = None
        ours = isinstance(data, dict) and {"schema_version", "protocol", "trackers", "plots"} <= data.keys()
    check_replaceable(out, ("report.json", *PLOT_FILES.values()))   # found only once the report was drawn
    foreign = [n for n in ("report.json", *PLOT_FILES.values()) if (out / n).is_file()   # each plot by its own mark:
               and (not ours if n == "report.json" else not drawn_here(out / n))]    # one beside dt's report too
    if foreign:
        raise InputError(f"--output '{out}' holds {foreign[0]}, which dt analyze did not write; pass another "
                         "--output, or move that file away")


def check_default_analysis(out: Path, result_dirs: list[Path], dataset: str) -> None:
    """dt analyze's default --output (analysis/<dataset>, one per dataset) holding the report of a result folder this
    run leaves out is refused before any work: a second comparison on the dataset silently replaced the first's
    report and plots. A rerun of the same folders, or of more (dt eval's next line once another tracker is scored),
    replaces it, as does a run given --output (also that one)."""
    import json

    try:
        earlier = [str(t["result_dir"]) for t in json.loads((out / "report.json").read_text(encoding="utf-8"))
                   .get("trackers", [])]
    except (OSError, ValueError, RecursionError, AttributeError, TypeError, KeyError):   # none, or not dt analyze's
        return   # (check_analysis_folder refuses a foreign report.json)
    given = {os.path.realpath(os.path.expanduser(str(d))) for d in result_dirs}
    left = [d for d in earlier if os.path.realpath(d) not in given]
    if left:
        raise InputError(f"'{out}' (dt analyze's default --output for --dataset {dataset.strip()}) holds the report "
                         f"of {' '.join(shell_quote(d) for d in earlier)}, which this run would replace without "
                         f"{' '.join(shell_quote(d) for d in left)}; pass --output DIR for this comparison, add "
                         f"{'that folder' if len(left) == 1 else 'those folders'} to it, or pass --output "
                         f"{shell_quote(str(out))} to replace that report")
