"""A tracker folder named in characters the plot font lacks (an emoji) is drawn as a box in the plots and printed
whole in the tables, without matplotlib's 'UserWarning: Glyph 128640 (\\N{ROCKET}) missing from font(s) DejaVu
Sans.' repeated for every figure on stderr with droptrack's plot_style.py / radar_view.py file:line and source."""

from __future__ import annotations

import warnings

import numpy as np

from droptrack.data.synth import generate_synth
from droptrack.eval.results import write_result
from tests.helpers import cli

NAME = "tracker \U0001F680"


def test_a_name_the_font_lacks_draws_without_glyph_warnings(tmp_path):
    root = generate_synth(tmp_path / "set", sequences=2, frames=6, seed=3, size=(96, 72))
    for seq in (p for p in root.iterdir() if p.is_dir()):
        gt = np.loadtxt(seq / "groundtruth.txt", delimiter=",")
        for name in (NAME, "other"):
            write_result(tmp_path / "res" / name / f"{seq.name}.txt", gt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = cli("analyze", tmp_path / "res" / NAME, tmp_path / "res" / "other", "--dataset", "synth", "--root", root,
                  "-o", tmp_path / "an")
    assert res.exit_code == 0, res.output
    assert NAME in res.output and (tmp_path / "an" / "success.png").is_file()
    assert [str(w.message) for w in caught if "Glyph" in str(w.message)] == []
