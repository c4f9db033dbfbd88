"""attributes_radar.png: drawn exactly when attributes.png is (3+ attributes), hand-computed polygon radii, stale
radar removed on a rerun, NaN scores on a spoke."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from droptrack.data.sequence import Sequence
from droptrack.eval.attributes import AttributeReport
from droptrack.eval.radar_view import radar_figure, radar_plot
from droptrack.eval.report import analyze
from droptrack.eval.results import write_result

GT = np.array([[10, 10, 20, 20], [12, 10, 20, 20]], dtype=np.float64)
MISS = np.array([[10, 10, 20, 20], [80, 80, 20, 20]], dtype=np.float64)


def _analyze(root, out, tags_per_seq):
    """dt analyze of two trackers on synthetic sequences tagged as given."""
    seqs = []
    for i, tags in enumerate(tags_per_seq):
        folder = root / "data" / f"s{i}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "attributes.txt").write_text("".join(f"{t}\n" for t in tags))
        seqs.append(Sequence(f"s{i}", "synth", [folder / "00000001.jpg", folder / "00000002.jpg"], None, GT))
    for name, pred in (("good", GT), ("bad", MISS)):
        for s in seqs:
            write_result(root / name / f"{s.name}.txt", pred)
    return analyze([root / "good", root / "bad"], seqs, tag="synth", output_dir=out)


def test_radar_is_drawn_with_the_bars_and_listed(tmp_path):
    out = tmp_path / "an"
    report = _analyze(tmp_path, out, [["blur"], ["noise", "dark"], []])   # blur, dark, noise, (none): 4 spokes
    assert report.plots["attributes_radar"] == "attributes_radar.png"
    assert (out / "attributes.png").is_file() and (out / "attributes_radar.png").is_file()
    assert json.loads((out / "report.json").read_text())["plots"]["attributes_radar"] == "attributes_radar.png"


def test_two_attributes_draw_bars_but_no_radar_and_a_rerun_removes_the_stale_one(tmp_path):
    out = tmp_path / "an"
    _analyze(tmp_path / "first", out, [["blur"], ["noise"], ["dark"]])
    assert (out / "attributes_radar.png").is_file()
    (out / ".attributes_radar.png.x1y2.tmp").write_bytes(b"killed run")   # a killed run's atomic-write temporary
    report = _analyze(tmp_path / "second", out, [["blur"], ["noise"]])   # 2 attributes: no polygon
    assert "attributes" in report.plots and "attributes_radar" not in report.plots
    assert (out / "attributes.png").is_file()
    assert not (out / "attributes_radar.png").exists()
    assert not (out / ".attributes_radar.png.x1y2.tmp").exists()
    assert "attributes_radar" not in json.loads((out / "report.json").read_text())["plots"]
    _analyze(tmp_path / "third", out, [[], []])                 # only untagged sequences: one spoke
    assert not (out / "attributes_radar.png").exists()


def _table(scores):
    """A hand-made AttributeReport: {attribute: {tracker: auc}}."""
    ar = AttributeReport("test", ("auc", "precision", "norm_precision"), 10)
    for a, per in scores.items():
        ar.counts[a] = 5
        ar.scores[a] = {t: {"auc": v} for t, v in per.items()}
    return ar


def _polygons(fig):
    """{tracker: (theta, r)} of the figure's polygon lines."""
    ax = fig.axes[0]
    return {ln.get_gid(): tuple(np.asarray(d, dtype=float) for d in ln.get_data()) for ln in ax.lines if ln.get_gid()}


THETA = [0.0, 2 * math.pi / 3, 4 * math.pi / 3, 0.0]   # three spokes from the top, closed back to the first


def test_polygon_vertices_are_each_spoke_scaled_from_worst_to_best():
    ar = _table({"A": {"t1": 0.60, "t2": 0.40, "t3": 0.45},
                 "B": {"t1": 0.50, "t2": 0.50, "t3": 0.50},
                 "C": {"t1": 0.30, "t2": 0.70, "t3": 0.60}})
    colors = {"t1": (1.0, 0.0, 0.0, 1.0), "t2": (0.0, 1.0, 0.0, 1.0), "t3": (0.0, 0.0, 1.0, 1.0)}
    fig = radar_figure(ar, "radar", colors, ["t2", "t1", "t3"])
    poly = _polygons(fig)
    # worst at 0.2, best at 1, linear between: A t3 = 0.2 + 0.8 * (0.45-0.40)/(0.60-0.40) = 0.4; C t3 = 0.8
    expected = {"t1": [1.0, 1.0, 0.2, 1.0], "t2": [0.2, 1.0, 1.0, 0.2], "t3": [0.4, 1.0, 0.8, 0.4]}
    assert set(poly) == set(expected)
    for t, radii in expected.items():
        np.testing.assert_allclose(poly[t][0], THETA, atol=1e-12)
        np.testing.assert_allclose(poly[t][1], radii, atol=1e-12)
    lines = {ln.get_gid(): ln for ln in fig.axes[0].lines if ln.get_gid()}
    assert all(lines[t].get_color() == colors[t] for t in colors)
    texts = [t.get_text() for t in fig.axes[0].texts]
    # best / worst x100, each with the tracker that scored it (the numbers alone did not say whose they were)
    assert any(t.startswith("A (5)") and t.endswith("60.0 t1 / 40.0 t2") for t in texts), texts
    assert any(t.endswith("70.0 t2 / 30.0 t1") for t in texts), texts


def test_spoke_labels_cut_long_tracker_names():
    ar = _table({"A": {"a_very_long_tracker_name": 0.6, "b": 0.4}, "B": {"a_very_long_tracker_name": 0.5, "b": 0.6},
                 "C": {"a_very_long_tracker_name": 0.3, "b": 0.7}})
    texts = [t.get_text() for t in radar_figure(ar, "radar").axes[0].texts]
    assert any(t.endswith("60.0 a_very_long\u2026 / 40.0 b") for t in texts), texts


def test_one_tracker_is_drawn_on_the_absolute_scale(tmp_path):
    ar = _table({"A": {"only": 0.6}, "B": {"only": 0.5}, "C": {"only": 0.3}})
    poly = _polygons(radar_figure(ar, "radar"))
    np.testing.assert_allclose(poly["only"][1], [0.6, 0.5, 0.3, 0.6], atol=1e-12)
    assert radar_plot(tmp_path / "r.png", ar, "radar") == tmp_path / "r.png"


def test_nan_and_missing_scores_leave_gaps_without_a_crash(tmp_path):
    ar = _table({"A": {"t1": 0.60, "t2": 0.40},
                 "B": {"t1": 0.50, "t2": math.nan},
                 "C": {"t1": math.nan, "t2": math.nan},
                 "D": {"t1": 0.30, "t2": 0.70}})
    ar.scores["A"]["t1"] = {}   # no score at all
    poly = _polygons(radar_figure(ar, "radar"))
    r1, r2 = poly["t1"][1], poly["t2"][1]
    assert np.isnan(r1[[0, 2, 4]]).all() and r1[1] == pytest.approx(1.0) and r1[3] == pytest.approx(0.2)
    assert np.isnan(r2[[1, 2]]).all() and r2[0] == pytest.approx(1.0) and r2[3] == pytest.approx(1.0)
    assert radar_plot(tmp_path / "r.png", ar, "radar") == tmp_path / "r.png"
    assert radar_plot(tmp_path / "two.png", _table({"A": {"t": 0.5}, "B": {"t": 0.4}}), "radar") is None
    assert not (tmp_path / "two.png").exists()


def test_small_differences_are_not_blown_up_and_identical_polygons_both_show():
    """The inner ring is at least 5 points below a spoke's best: 70.0 vs 69.0 is 0.2 + 0.8 * 4/5 = 0.84, not the
    whole radius; an export scoring as its reference is dashed over it, so both colours show."""
    ar = _table({"A": {"ref": 0.70, "fp16": 0.69}, "B": {"ref": 0.5, "fp16": 0.5}, "C": {"ref": 0.3, "fp16": 0.3}})
    poly = _polygons(radar_figure(ar, "radar"))
    np.testing.assert_allclose(poly["fp16"][1], [0.84, 1.0, 1.0, 0.84], atol=1e-12)
    np.testing.assert_allclose(poly["ref"][1], [1.0, 1.0, 1.0, 1.0], atol=1e-12)
    same = _table({"A": {"ref": 0.7, "fp16": 0.7}, "B": {"ref": 0.5, "fp16": 0.5}, "C": {"ref": 0.3, "fp16": 0.3}})
    lines = {ln.get_gid(): ln for ln in radar_figure(same, "radar", order=["ref", "fp16"]).axes[0].lines
             if ln.get_gid()}
    assert lines["ref"].get_linestyle() != "-" and lines["fp16"].get_linestyle() == "-"
    assert lines["ref"].get_zorder() > lines["fp16"].get_zorder()
