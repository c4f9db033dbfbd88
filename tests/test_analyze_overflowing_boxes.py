"""A result row of huge numbers (1e308, -1e308, inf: a tracker's float overflow written out) is scored as a miss, as
pytracking's IoU and centre error score it, without Python's 'RuntimeWarning: overflow encountered in subtract'
lines (file:line and source of droptrack's box_convention and geometry modules) on the standard error."""

from __future__ import annotations

import json
import warnings

import numpy as np

from droptrack.data.synth import generate_synth
from droptrack.eval.results import write_result
from tests.helpers import cli

HUGE = ["1e308\t1e308\t1e308\t1e308", "-1e308\t-1e308\t1e308\t1e308", "inf\t1\t2\t3"]


def test_huge_boxes_score_as_misses_without_runtime_warnings(tmp_path):
    root = generate_synth(tmp_path / "set", sequences=1, frames=8, seed=3, size=(96, 72))
    seq = next(p for p in root.iterdir() if p.is_dir())
    gt = np.loadtxt(seq / "groundtruth.txt", delimiter=",")
    for name in ("exact", "huge"):
        write_result(tmp_path / "res" / name / f"{seq.name}.txt", gt)
    path = tmp_path / "res" / "huge" / f"{seq.name}.txt"
    lines = path.read_text().splitlines()
    lines[1:4] = HUGE
    path.write_text("\n".join(lines) + "\n")
    for protocol in ("ostrack-ope", "pytracking-ope", "got10k-toolkit"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = cli("analyze", tmp_path / "res" / "exact", tmp_path / "res" / "huge", "--dataset", "synth",
                      "--root", root, "--protocol", protocol, "-o", tmp_path / protocol)
        assert res.exit_code == 0, res.output
        assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == [], protocol
        exact, huge = (t["scores"] for t in json.loads((tmp_path / protocol / "report.json").read_text())["trackers"])
        key = "ao" if protocol == "got10k-toolkit" else "auc"
        assert huge[key] < exact[key], (protocol, exact, huge)
