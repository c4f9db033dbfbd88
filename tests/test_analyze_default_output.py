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


def test_two_analyses_at_once_into_the_default_output_do_not_replace_each_other(tmp_path, monkeypatch):
    """The check ran before the analysis and the lock only around the write: a second dt analyze started half a
    second after the first replaced its report (3 of 10 tries). The check runs again under the lock."""
    import droptrack.eval.report as report_module

    data = generate_synth(tmp_path / "set", 1, 3, seed=0, size=(96, 64), split="val")
    monkeypatch.chdir(tmp_path)
    for tracker in ("kcf", "mosse"):
        assert cli("eval", "--dataset", "synth", "--root", data, "--tracker", tracker, "-o", "results").exit_code == 0
    report = tmp_path / "analysis" / "synth" / "report.json"
    real = report_module.analyze

    def meanwhile(*a, **k):   # the other dt analyze (of results/kcf) writes its report while this one analyzes
        result = real(*a, **k)
        monkeypatch.setattr(report_module, "analyze", real)
        assert cli("analyze", "results/kcf", "--dataset", "synth", "--root", data).exit_code == 0
        return result

    monkeypatch.setattr(report_module, "analyze", meanwhile)
    line = one_line_error(cli("analyze", "results/mosse", "--dataset", "synth", "--root", data))
    assert "holds the report of results/kcf, which this run would replace without results/kcf" in line, line
    assert _trackers(report) == ["results/kcf"]


def test_analyzing_a_folder_dt_eval_is_still_writing_says_so(tmp_path, monkeypatch):
    """dt analyze of a folder a running dt eval writes reported 1/3 sequences with 'run the tracker on this
    sequence' warnings and exit 0, not a word of the eval still running."""
    import fcntl
    import os

    data = generate_synth(tmp_path / "set", 1, 3, seed=0, size=(96, 64), split="val")
    monkeypatch.chdir(tmp_path)
    assert cli("eval", "--dataset", "synth", "--root", data, "--tracker", "kcf", "-o", "results").exit_code == 0
    fd = os.open(tmp_path / "results" / "kcf" / ".lock", os.O_CREAT | os.O_RDWR)   # as a running dt eval holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        res = cli("analyze", "results/kcf", "--dataset", "synth", "--root", data, "-o", "an")
    finally:
        os.close(fd)
    said = " ".join(res.output.split())
    assert res.exit_code == 0 and "note: results/kcf is still being written (a dt eval or dt bench holds its lock)" \
        in said, said
