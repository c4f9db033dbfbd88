"""Two `dt analyze` runs of different result folders on one dataset both wrote the default analysis/<dataset>: the
second silently replaced the first's report.json and plots. Now a run that would leave out a result folder of the
report there is refused in one line, exit 2, before any work, naming the earlier folders and the fix; a rerun of the
same folders, or of more (dt eval's next line once another tracker is scored), replaces it, and so does a run given
--output (dt eval's default results/<dataset> keeps each tracker in its own folder, so nothing of it is lost either)."""

from __future__ import annotations

import json

from droptrack.data import generate_synth
from helpers import cli, one_line_error


def _trackers(report) -> list[str]:
    return [t["result_dir"] for t in json.loads(report.read_text())["trackers"]]


def test_another_comparison_does_not_replace_the_default_report(tmp_path, monkeypatch):
    data = generate_synth(tmp_path / "set", 1, 3, seed=0, size=(96, 64), split="val")
    monkeypatch.chdir(tmp_path)   # the default output is relative to the working folder
    for tracker in ("kcf", "mosse"):
        res = cli("eval", "--dataset", "synth", "--root", data, "--tracker", tracker, "-o", "results")
        assert res.exit_code == 0, res.output
    kcf, mosse = "results/kcf", "results/mosse"
    report = tmp_path / "analysis" / "synth" / "report.json"

    def analyze(*args):
        return cli("analyze", *args, "--dataset", "synth", "--root", data)

    assert analyze(kcf).exit_code == 0 and _trackers(report) == [kcf]
    first = report.read_bytes()
    line = one_line_error(analyze(mosse))
    assert "'analysis/synth' (dt analyze's default --output for --dataset synth) holds the report of results/kcf, " \
           "which this run would replace without results/kcf; pass --output DIR" in line, line
    assert "--output analysis/synth to replace that report" in line, line
    assert report.read_bytes() == first   # kept as it was
    assert analyze(str(tmp_path / kcf)).exit_code == 0   # the same folder, by another path: a rerun
    res = analyze(kcf, mosse)   # one more tracker: every earlier score is in the new report
    assert res.exit_code == 0, res.output
    assert _trackers(report) == [kcf, mosse]
    assert "results/kcf" in one_line_error(analyze(mosse))
    res = analyze(mosse, "--output", "analysis/synth")   # named: replaced as asked
    assert res.exit_code == 0, res.output
    assert _trackers(report) == [mosse]
