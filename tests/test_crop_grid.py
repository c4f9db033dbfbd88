"""CROP_GRID (runtime/extensions.grid_anchor): the search window on a grid relative to its side, hand-computed; a
state error below a step gives the same crop; one-line errors. The tracker-level tests (the next box forgets a small
state error, host = device) are in test_tracker_ext_scale.py, on test_tracker_ext.py's tiny model and frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.errors import InputError
from droptrack.geometry import crop_params, map_box_back
from droptrack.runtime.extensions import OFFICIAL, TrackerExt, grid_anchor


def test_grid_window_hand_computed():
    # sqrt(30.1 x 40.7) x 5 = 175.007; ln(175.007) / ln(1.05) = 105.86 -> nearest rung 106: 1.05^106 = 176.22
    # -> side 176. Step q = 0.05 x 176 = 8.8; official corner x: 115.35 - 88 = 27.35 = 3.11 steps -> 3 -> 26.4 -> 26;
    # y: 70.55 - 88 = -17.45 = -1.98 steps -> -2 -> -17.6 -> -18.
    anchor = grid_anchor([100.3, 50.2, 30.1, 40.7], 5.0, 0.05)
    p = crop_params(anchor, 5.0, (240, 320))
    assert (p.x1, p.y1, p.crop_sz) == (26, -18, 176)
    # the official map-back from the anchor is the window's own corner + the crop position (x 176/320 px)
    pred = [160.0, 100.0, 64.0, 32.0]   # crop pixels (cx, cy, w, h) of a 320 input
    rf = 320 / 176
    got = map_box_back([v / rf for v in pred], anchor, 320, rf)
    want = [26 + (160 - 32) / rf, -18 + (100 - 16) / rf, 64 / rf, 32 / rf]
    assert got == pytest.approx(want, abs=1e-5)
    assert grid_anchor([1.0, 2.0, 3.0, 4.0], 5.0, None) == [1.0, 2.0, 3.0, 4.0]   # off: the box itself
    with pytest.raises(InputError, match="empty crop"):     # an empty box: the crop's own one-line error
        crop_params(grid_anchor([1.0, 2.0, 0.0, 4.0], 5.0, 0.1), 5.0, (240, 320))


def test_grid_window_is_within_a_rung_and_a_step_of_the_official_one():
    rng = np.random.default_rng(0)
    for _ in range(500):
        w, h = rng.uniform(4, 200, 2)
        box = [rng.uniform(-50, 600), rng.uniform(-50, 400), w, h]
        factor = rng.choice([4.0, 5.0, 3.2])
        grid = rng.choice([0.02, 0.05, 0.1, 0.25])
        official = crop_params(box, factor, (360, 640))
        p = crop_params(grid_anchor(box, factor, grid), factor, (360, 640))
        rung = math.sqrt(1 + grid)   # the nearest rung is at most half a step (in log) away
        assert official.crop_sz / rung - 2 <= p.crop_sz <= official.crop_sz * rung + 1
        cx, cy = box[0] + 0.5 * box[2], box[1] + 0.5 * box[3]
        for corner, centre in ((p.x1, cx), (p.y1, cy)):
            assert abs(corner + 0.5 * p.crop_sz - centre) <= 0.5 * grid * p.crop_sz + 1.0


def test_a_small_state_error_takes_the_same_crop():
    """0.01 px of error in every coordinate: the same anchor (so the same crop and map-back) on almost every box;
    without the grid the anchor is the state itself, so the error always goes through."""
    rng = np.random.default_rng(1)
    same, n = 0, 400
    for _ in range(n):
        box = [rng.uniform(0, 500), rng.uniform(0, 300), *rng.uniform(10, 120, 2)]
        moved = [v + 0.01 * rng.choice([-1, 1]) for v in box]
        same += grid_anchor(box, 5.0, 0.1) == grid_anchor(moved, 5.0, 0.1)
        assert grid_anchor(box, 5.0, None) != grid_anchor(moved, 5.0, None)
    assert same / n >= 0.95, same / n


def test_crop_grid_option_errors_and_official_switch():
    runner = CliRunner()
    for value in ("0", "0.5", "x"):
        r = runner.invoke(app, ["run", "missing.mp4", "--init", "1,2,3,4", "--crop-grid", value])
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert r.exit_code == 2 and len(lines) == 1 and "--crop-grid" in lines[0], (value, r.output)
    assert "CROP_GRID" in OFFICIAL   # --official and tuning baselines turn it off
    assert TrackerExt(crop_grid=0.1).describe() == "official + crop grid 0.1"
