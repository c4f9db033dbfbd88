"""dt analyze's legends with long tracker names: result folders named like
droptrack_tiny_synth_version32_with_scale_search_onnx_fp32_int8_kept made every legend (curves, attribute bars,
radar) as wide as the axes beside it. Legend labels are now cut in the middle to 36 characters, start and end kept,
distinct from each other; the tables and report.json keep the full names."""

from __future__ import annotations

import json

import numpy as np
from matplotlib.colors import to_rgba

from droptrack.eval.attributes import AttributeReport
from droptrack.eval.attributes_view import attribute_figure
from droptrack.eval.plot_style import legend_names
from droptrack.eval.radar_view import radar_figure
from droptrack.eval.report_plots import curve_figure

NAME = "droptrack_tiny_synth_version32_with_scale_search_onnx_fp32_int8_kept"   # 68 characters
ELLIPSIS = "\u2026"


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_a_long_name_is_cut_in_the_middle_and_a_short_one_kept():
    labels = legend_names([NAME, "kcf", "SeqTrack-L384 (official raw results)"])   # the last: 36, kept whole
    assert labels == {NAME: "droptrack_tiny_syn" + ELLIPSIS + "nx_fp32_int8_kept", "kcf": "kcf",
                      "SeqTrack-L384 (official raw results)": "SeqTrack-L384 (official raw results)"}


def test_names_differing_in_the_middle_keep_distinct_labels_that_show_the_difference():
    names = [f"droptrack_tiny_synth_version{v}_with_scale_search_onnx_fp32_int8_kept" for v in range(30, 40)]
    labels = legend_names(names + ["droptrack_tiny_synth_version30_with_scale_search_onnx_fp32_int8_kepT"])
    assert len(set(labels.values())) == len(labels) == 11 and max(map(len, labels.values())) == 36
    # the middle cut ('droptrack_tiny_syn...') was the same for all: cut after 'version3N' (30 of 35 characters)
    assert labels[names[0]] == "droptrack_tiny_synth_version30" + ELLIPSIS + "_kept"
    assert labels[names[0][:-1] + "T"] == "droptrack_tiny_synth_version30" + ELLIPSIS + "_kepT"


def test_names_no_cut_tells_apart_get_numbered_ends():
    labels = legend_names(["x" * 40, "x" * 41, "x" * 42, "x" * 36])
    assert labels == {"x" * 40: "x" * 18 + ELLIPSIS + "x" * 17, "x" * 41: "x" * 17 + ELLIPSIS + "x" * 16 + "~2",
                      "x" * 42: "x" * 17 + ELLIPSIS + "x" * 16 + "~3", "x" * 36: "x" * 36}


def test_the_legends_of_every_plot_show_the_short_labels_and_stay_narrow():
    names = [NAME, NAME.replace("int8_kept", "fp16"), "kcf"]
    x = np.linspace(0, 1, 21)
    colors = {n: to_rgba(f"C{i}") for i, n in enumerate(names)}
    fig = curve_figure("Success plot", "x", "y", "AUC", [(n, x, np.clip(1.1 - x - 0.2 * i, 0, 1), 0.5 - 0.1 * i)
                                                         for i, n in enumerate(names)], colors)
    short = ["droptrack_tiny_syn" + ELLIPSIS + "nx_fp32_int8_kept", "droptrack_tiny_syn" + ELLIPSIS +
             "ch_onnx_fp32_fp16", "kcf"]
    assert _legend(fig) == [f"{short[0]} [50.0]", f"{short[1]} [40.0]", "kcf [30.0]"]
    renderer = fig.canvas.get_renderer()
    assert fig.axes[0].get_legend().get_window_extent(renderer).width < 0.75 * fig.axes[0].get_window_extent().width
    scores = {a: {n: {"auc": 0.9 - 0.1 * i} for i, n in enumerate(names)} for a in ("blur", "noise", "rotation")}
    ar = AttributeReport("test", ("auc",), 3, counts={a: 1 for a in scores}, scores=scores)
    assert _legend(attribute_figure(ar, "t", colors, names)) == short
    assert _legend(radar_figure(ar, "t", colors, names)) == short


def test_dt_analyze_writes_the_plots_of_long_named_trackers_and_keeps_their_full_names(tmp_path):
    from droptrack.eval import results as R
    from droptrack.eval.report import analyze
    from helpers import FakeSeq

    seqs = [FakeSeq("s0", "otb", np.array([[20.0 + 3 * i, 30.0, 40.0, 30.0] for i in range(10)]))]
    names = [NAME, NAME.replace("version32", "version33")]
    for k, name in enumerate(names):
        R.write_result(tmp_path / name / "s0.txt", seqs[0].boxes + k)
    analyze([tmp_path / n for n in names], seqs, output_dir=tmp_path / "out")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert sorted(t["name"] for t in report["trackers"]) == sorted(names)
    assert all((tmp_path / "out" / f).stat().st_size > 0 for f in report["plots"].values())
    assert set(report["plots"].values()) == {"success.png", "precision.png", "norm_precision.png"}
