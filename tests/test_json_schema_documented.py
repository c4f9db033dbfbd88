"""Every key `dt bench` writes into bench.json and report.json is in the schema their modules publish (the module
docstrings, which say keys are stable): settings.resume, the rows' eval.tracked / eval.resumed and report.json's
per-sequence avg_overlap_valid_frames were written but not described."""

from __future__ import annotations

import json
import re

from helpers import cli

import droptrack.eval.bench_report as bench_report
import droptrack.eval.report as report

# maps keyed by data (sequence, attribute, tracker or precision names), whose values are described as a whole
BY_NAME = {"sequences", "errors", "notes", "timing_errors", "counts", "scores", "tracker_overrides", "versions",
           "max_auc_drop_defaults", "max_divergence_defaults"}


def _keys(obj, path=""):
    """(path, key) of every object key, the named maps' own keys left out (per_sequence: its values' keys)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path, k
            if k == "per_sequence" and isinstance(v, dict):
                for item in v.values():
                    yield from _keys(item, f"{path}.{k}.*")
            elif k == "differences":   # rows keyed sequence, diff and the two trackers' names
                assert all(set(r) - {"sequence", "diff"} == {t["name"] for t in obj["trackers"][:2]} for r in v)
            elif k not in BY_NAME:
                yield from _keys(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for v in obj:
            yield from _keys(v, path + "[]")


def test_every_key_written_is_documented(tiny_ckpt, tmp_path):
    out = tmp_path / "bench"
    res = cli("bench", tiny_ckpt, "--tracker", "kcf", "--sequences", "2", "--frames", "3", "--threads", "1",
              "-o", out)
    assert res.exit_code == 0, res.output
    for name, module in (("bench.json", bench_report), ("report.json", report)):
        documented = set(re.findall(r"\w+", module.__doc__))
        written = json.loads((out / name).read_text())
        assert sorted({(p, k) for p, k in _keys(written) if k not in documented}) == [], name
