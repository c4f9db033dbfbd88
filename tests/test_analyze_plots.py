"""dt analyze's plots as a person reads them: one colour per tracker in every plot, legends that hide no data."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from droptrack.eval.attributes import AttributeReport
from droptrack.eval.attributes_view import attribute_figure
from droptrack.eval.report_plots import curve_figure

LONG = ["OSTrack-256-baseline", "droptrack_vitb384_ce_fp16_tensorrt", "droptrack-tiny-int8-onnxruntime", "kcf",
        "csrt_opencv_4.10_default_settings", "mosse", "MixFormerV2-S", "SeqTrack-L384 (official raw results)"]


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def _colours(fig) -> dict[str, tuple]:
    """{tracker name: RGBA} of a curve figure's legend entries ('name [score]')."""
    legend = fig.axes[0].get_legend()
    return {t.get_text().rsplit(" [", 1)[0]: to_rgba(h.get_color()) for h, t in zip(legend.legend_handles,
                                                                                      legend.get_texts())}


def test_a_tracker_has_the_same_colour_in_the_success_and_the_precision_plot():
    """Colours went by rank in each plot: A (best AUC, worst precision) was blue on success.png and green on
    precision.png, so curves were matched to the wrong tracker across the two plots."""
    x = np.linspace(0, 1, 3)
    success = [("A", x, x, 0.9), ("B", x, x, 0.5), ("C", x, x, 0.1)]
    precision = [("A", x, x, 0.1), ("B", x, x, 0.5), ("C", x, x, 0.9)]
    colors = {"A": to_rgba("red"), "B": to_rgba("green"), "C": to_rgba("blue")}
    first = curve_figure("Success plot", "x", "y", "AUC", success, colors)
    second = curve_figure("Precision plot", "x", "y", "P", precision, colors)
    assert _colours(first) == _colours(second) == colors
    assert _legend(first) == ["A [90.0]", "B [50.0]", "C [10.0]"] and _legend(second) == ["C [90.0]", "B [50.0]",
                                                                                           "A [10.0]"]


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_with_eight_trackers_the_legend_covers_no_curve():
    """With 8 long-named trackers the legend sat inside the axes, over the lower curves."""
    x = np.linspace(0, 1, 21)
    series = [(n, x, np.clip(1.2 - x - 0.1 * i, 0, 1), 0.8 - 0.1 * i) for i, n in enumerate(LONG)]
    colors = {n: to_rgba(f"C{i}") for i, n in enumerate(LONG)}
    fig = curve_figure("Success plot", "Overlap threshold", "OP [%]", "AUC", series, colors)
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()][-1] == "SeqTrack-L384 (official raw results) [10.0]"
    assert not _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
    short = [(n, *rest) for n, (_, *rest) in zip(("kcf", "mosse"), series)]
    few = curve_figure("Success plot", "x", "y", "AUC", short, {"kcf": "C0", "mosse": "C1"})   # inside, as pytracking
    lg = few.axes[0].get_legend()
    assert _overlap(lg.get_window_extent(few.canvas.get_renderer()), few.axes[0].get_window_extent())


def test_attribute_bars_share_the_curves_colours_and_keep_the_legend_off_the_bars():
    """The bars took matplotlib's default cycle in the folders' order, not the curves' colours and ranking, and the
    legend sat at the lower right, over the longest bars of the last attribute."""
    scores = {a: {n: {"auc": 0.9 - 0.1 * i} for i, n in enumerate(LONG)} for a in ("Fast Motion", "Rotation")}
    ar = AttributeReport("test", ("auc",), 3, counts={"Fast Motion": 2, "Rotation": 3}, scores=scores)
    colors = {n: to_rgba(f"C{(i + 3) % 10}") for i, n in enumerate(LONG)}
    order = LONG[::-1]                                       # say, the overall ranking
    fig = attribute_figure(ar, "Per attribute", colors, order)
    ax = fig.axes[0]
    bars = {c.get_label(): c for c in ax.containers}
    assert {n: to_rgba(c.patches[0].get_facecolor()) for n, c in bars.items()} == colors
    tops = [bars[n].patches[-1].get_y() for n in order]      # the first in `order` on top of each group
    assert tops == sorted(tops, reverse=True)
    renderer = fig.canvas.get_renderer()
    assert not _overlap(ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer))
    two = attribute_figure(ar, "t", colors, LONG[:2]).axes[0]   # even for two trackers
    renderer = two.figure.canvas.get_renderer()
    assert not _overlap(two.get_legend().get_window_extent(renderer), two.get_window_extent(renderer))


def test_rerun_into_the_same_folder_leaves_no_stale_plot(tmp_path):
    """A GOT-10k analysis (success + attributes) followed by an OTB one in the same --output left the GOT-10k
    attributes.png next to the OTB report.json, which does not name it; a file that is not dt analyze's (no mark)
    stays, also beside dt analyze's report."""
    import json

    from droptrack.eval import results as R
    from droptrack.eval.report import analyze
    from helpers import FakeSeq

    seqs = [FakeSeq("s0", "otb", np.array([[20.0 + 3 * i, 30.0, 40.0, 30.0] for i in range(10)]))]
    R.write_result(tmp_path / "A" / "s0.txt", seqs[0].boxes)
    import matplotlib.pyplot as plt

    from droptrack.eval.plot_style import png_bytes

    fig = plt.figure()
    earlier = png_bytes(fig)   # an earlier dt analyze's plot: it carries the mark
    plt.close(fig)
    out = tmp_path / "out"
    out.mkdir()
    (out / "attributes.png").write_bytes(earlier)
    (out / "notes.png").write_bytes(b"mine")
    analyze([tmp_path / "A"], seqs, output_dir=out)                 # the plot the earlier run drew and this one not
    assert set(json.loads((out / "report.json").read_text())["plots"].values()) == {"success.png", "precision.png",
                                                                                     "norm_precision.png"}
    assert sorted(p.name for p in out.iterdir()) == ["norm_precision.png", "notes.png", "precision.png",
                                                     "report.json", "success.png"]
    (out / "attributes.png").write_bytes(b"a figure of mine")       # no mark: a user's, beside dt's report
    analyze([tmp_path / "A"], seqs, output_dir=out)
    assert (out / "attributes.png").read_bytes() == b"a figure of mine"   # it was removed as a stale plot


def test_names_with_dollar_signs_or_a_leading_underscore_are_shown_as_written():
    """A tracker folder named _baseline had no legend entry (matplotlib drops labels starting with '_'), and
    run_$1$_x was typeset as maths ('run_1_x' in italics)."""
    x = np.linspace(0, 1, 3)
    names = ["_baseline", "run_$1$_x"]
    fig = curve_figure("Success plot on a$b", "x", "y", "AUC", [(n, x, x, 0.5) for n in names],
                       {n: to_rgba("C0") for n in names})
    assert _legend(fig) == ["_baseline [50.0]", r"run_\$1\$_x [50.0]"]    # '\$' is matplotlib's literal dollar
    assert fig.axes[0].get_title() == r"Success plot on a\$b"
    ar = AttributeReport("test", ("auc",), 1, counts={"Fast Motion": 1},
                         scores={"Fast Motion": {"_baseline": {"auc": 0.5}, "run_$1$_x": {"auc": 0.4}}})
    bars = attribute_figure(ar, "t", None, names)
    assert _legend(bars) == ["_baseline", r"run_\$1\$_x"]


def test_the_normalized_precision_plot_is_drawn_as_ostracks_analysis_does(tmp_path):
    """OSTrack's analysis plots success, norm_prec and prec; dt analyze printed NP but drew no plot of it."""
    import json

    from matplotlib import image

    from droptrack.eval import results as R
    from droptrack.eval.report import analyze
    from helpers import FakeSeq

    seqs = [FakeSeq("s0", "lasot", np.array([[20.0, 30.0, 40.0, 30.0]] * 5))]
    p = seqs[0].boxes.copy()
    p[1:3, 0] += 10                     # centre 10 px off on a 40 px wide box: normalized error 0.25 on 2 frames
    R.write_result(tmp_path / "A" / "s0.txt", p)
    rep = analyze([tmp_path / "A"], seqs, output_dir=tmp_path / "out")
    assert rep.trackers[0].result.norm_precision == pytest.approx(3 / 5)
    assert rep.plots["norm_precision"] == "norm_precision.png"
    assert image.imread(tmp_path / "out" / "norm_precision.png").shape[1] > 300
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["plots"]["norm_precision"] == "norm_precision.png"


def test_two_trackers_with_long_names_get_their_legend_beside_the_axes():
    """Two 60-character names made the inside legend span most of the axes, over the curves."""
    x = np.linspace(0, 1, 21)
    names = ["droptrack_vitb384_ce_fp16_tensorrt_sm87_jetson_orin_maxn_run2", "ostrack_vitb384_ce_official_raw_result"]
    series = [(n, x, np.clip(1.1 - x - 0.2 * i, 0, 1), 0.5 - 0.1 * i) for i, n in enumerate(names)]
    fig = curve_figure("Success plot", "x", "y", "AUC", series, {n: to_rgba(f"C{i}") for i, n in enumerate(names)})
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    assert not _overlap(ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer))


def test_the_best_curve_is_drawn_on_top_where_curves_overlap():
    """The best tracker was drawn first, so a weaker one's curve hid it wherever they coincide (GOT-10k's flat
    success curves of a few sequences)."""
    x = np.linspace(0, 1, 5)
    series = [("weak", x, np.full(5, 0.5), 0.3), ("best", x, np.full(5, 0.5), 0.9), ("mid", x, np.full(5, 0.5), 0.6)]
    fig = curve_figure("Success plot", "x", "y", "AUC", series, {"weak": "C0", "best": "C1", "mid": "C2"})
    lines = {to_rgba(ln.get_color()): ln.get_zorder() for ln in fig.axes[0].get_lines()}
    assert lines[to_rgba("C1")] > lines[to_rgba("C2")] > lines[to_rgba("C0")]
    assert _legend(fig) == ["best [90.0]", "mid [60.0]", "weak [30.0]"]


def test_identical_curves_both_show():
    """An export and its PyTorch reference (dt bench) often have the very same curve: the one drawn beneath was hidden
    whole, so the plot showed fewer curves than its legend named. Each colour is now seen along the curve."""
    x = np.linspace(0, 1, 21)
    y = np.clip(1.2 - x, 0, 1)
    series = [("ref", x, y, 0.6), ("fp16", x, y, 0.6), ("int8", x, y, 0.6), ("other", x, y * 0.5, 0.3)]
    colors = {"ref": "#1f77b4", "fp16": "#ff7f0e", "int8": "#2ca02c", "other": "#d62728"}
    fig = curve_figure("Success plot", "x", "y", "AUC", series, colors)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].reshape(-1, 3).astype(int)
    for name, colour in colors.items():
        rgb = (np.array(to_rgba(colour)[:3]) * 255).round().astype(int)
        assert (np.abs(pixels - rgb).max(axis=1) <= 8).sum() > 200, name


def test_every_legend_entry_shows_its_colour_over_identical_curves():
    """Five trackers with the same curve (copies of one result folder, an export and its reference): the dash
    pattern that lets each colour show along the curve left the legend's short sample of some of them blank, so
    their entries named a tracker with no colour to find it by."""
    x = np.linspace(0, 1, 21)
    y = np.clip(1.2 - x, 0, 1)
    names = [f"run_{i}" for i in range(5)]
    colors = {n: to_rgba(f"C{i}") for i, n in enumerate(names)}
    fig = curve_figure("Success plot", "x", "y", "AUC", [(n, x, y, 0.6) for n in names], colors)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    height = pixels.shape[0]
    legend = fig.axes[0].get_legend()
    for line, text in zip(legend.get_lines(), legend.get_texts()):
        box = line.get_window_extent(fig.canvas.get_renderer())
        rows = slice(max(0, int(height - box.y1) - 2), int(height - box.y0) + 3)
        patch = pixels[rows, int(box.x0):int(box.x1) + 1].reshape(-1, 3)
        rgb = (np.array(to_rgba(colors[text.get_text().rsplit(" [", 1)[0]])[:3]) * 255).round().astype(int)
        assert (np.abs(patch - rgb).max(axis=1) <= 8).sum() > 5, text.get_text()


def test_curves_a_frame_apart_are_dashed_so_every_colour_shows_and_the_legend_leaves_the_lowest_one_visible():
    """dt bench's INT8 curves, one frame from FP32's at one threshold, were drawn solid over the reference, which
    vanished; and a legend fixed at the lower left sat over the weakest tracker's curve."""
    import numpy as np
    from matplotlib.colors import to_rgba

    from droptrack.eval.report_plots import curve_figure

    x = np.linspace(0, 1, 21)
    ref = np.clip(1.0 - x, 0, 1)
    near = ref.copy()
    near[12] -= 0.006   # one frame of 160 at one threshold
    near[17:19] -= 0.1   # and parting by 10 points at two thresholds: still on the reference over most of them
    low = np.clip(0.3 - x, 0, 1)   # the weakest: all of it in the lower left
    series = [("model", x, ref, 0.55), ("int8", x, near, 0.549), ("reference", x, ref, 0.55), ("kcf", x, low, 0.1)]
    colors = {"model": "C0", "int8": "C1", "reference": "C2", "kcf": "C3"}
    fig = curve_figure("Success plot", "x", "y", "AUC", series, colors)
    ax = fig.axes[0]
    styles = {to_rgba(line.get_color()): line.get_linestyle() for line in ax.get_lines()}
    assert sum(styles[to_rgba(colors[n])] == "-" for n in ("model", "int8", "reference")) == 1, styles   # 2 dashed
    renderer = fig.canvas.get_renderer()
    box = ax.get_legend().get_window_extent(renderer)
    kcf = next(line for line in ax.get_lines() if to_rgba(line.get_color()) == to_rgba("C3"))
    points = ax.transData.transform(np.column_stack(kcf.get_data()))
    assert not any(box.contains(px, py) for px, py in points), "the legend covers kcf's curve"


def test_a_missing_attribute_score_reads_n_a_not_an_empty_bar_like_zero():
    """NaN, None and 0.0 all drew an empty slot: a tracker with no score there read as one that scored 0."""
    from types import SimpleNamespace

    from droptrack.eval.attributes_view import attribute_figure

    ar = SimpleNamespace(keys=["auc"], counts={"blur": 2, "occlusion": 1},
                         scores={"blur": {"A": {"auc": 0.0}, "B": {"auc": float("nan")}},
                                 "occlusion": {"A": {"auc": 0.5}, "B": {"auc": None}}})
    ax = attribute_figure(ar, "Per attribute").axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["n/a", "n/a"]   # B's two; A's 0.0 is a score
    assert ax.get_ylabel() == "attribute (sequences with it)"


def test_colours_stay_with_their_tracker_and_neighbours_differ():
    """12 trackers: the first 10 keep the colours they have when 10 are drawn (matplotlib's tab10: #1f77b4, #ff7f0e,
    ...); the 11th and 12th are the pale twins of the 1st and 2nd (#aec7e8, #ffbb78), dashed, not the pale twin of
    their left neighbour (tab20 in its own order gave tracker 2 the pale blue of tracker 1)."""
    from matplotlib.colors import to_hex

    from droptrack.eval.plot_style import line_style, tracker_colors

    tab10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
             "#17becf"]
    names = [f"t{i}" for i in range(12)]
    many = {n: to_hex(c) for n, c in tracker_colors(names).items()}
    ten = {n: to_hex(c) for n, c in tracker_colors(names[:10]).items()}
    assert [many[n] for n in names[:10]] == [ten[n] for n in names[:10]] == tab10
    assert [many["t10"], many["t11"]] == ["#aec7e8", "#ffbb78"]
    assert [line_style(i) for i in (0, 9, 10, 19, 20)] == ["-", "-", "--", "--", "-."]
