"""`dt bench --resume` kept the earlier bench's bench.json, bench.md, report.json and plots while it continued the
rows: interrupted again, the folder held a report of another run beside the continued results, and a resumed run
that drew no plot of its own left the earlier ones beside its report. The old report files go once the checks
have passed (a resume refused before any work keeps them); the finished run writes its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from droptrack.config import load_config
from droptrack.data import generate_synth
from droptrack.eval.bench import BenchOptions, run_bench
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint

OLD = ("bench.json", "bench.md", "report.json", "success.png", "precision.png", "latency.png")


@pytest.fixture()
def benched(tmp_path) -> tuple[BenchOptions, Path]:
    """A complete bench of a tiny checkpoint on 2x4 synthetic frames, then one sequence's results gone, as a bench
    killed while it tracked leaves them: (--resume options, the output folder)."""
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    ckpt = save_checkpoint(tmp_path / "tiny.pt", build_model(cfg).eval(), cfg)
    data = generate_synth(tmp_path / "synth", sequences=2, frames=4, seed=0, size=(96, 72), split="val")
    opts = BenchOptions([str(ckpt)], data=str(data), output_dir=tmp_path / "out", threads=1, progress=False,
                        warmup=1, timed_frames=3)
    run_bench(opts)
    out = tmp_path / "out"
    assert all((out / name).is_file() for name in OLD), sorted(p.name for p in out.iterdir())
    for f in (out / "results" / "tiny").glob("synth_val_00002*"):
        f.unlink()
    opts.resume = True
    return opts, out


def test_an_interrupted_resume_leaves_no_report_of_the_earlier_run(benched, monkeypatch):
    opts, out = benched
    from droptrack.eval.run import evaluate

    def interrupted(*args, **kwargs):   # Ctrl-C while the row is continued (after --resume's checks)
        if kwargs.get("check_only"):
            return evaluate(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr("droptrack.eval.run.evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_bench(opts)
    left = [name for name in OLD if (out / name).exists()]
    assert left == [], left


def test_a_finished_resume_writes_a_report_of_its_own_run_only(benched, monkeypatch):
    opts, out = benched
    monkeypatch.setattr("droptrack.eval.bench_report.latency_plot",
                        lambda path, rows, setup="": None)   # as when none is timed
    monkeypatch.setattr("droptrack.eval.bench_report._curves", lambda report, seqs: None)      # nor scored
    report = run_bench(opts)
    js = json.loads((out / "bench.json").read_text())
    assert js["settings"]["resume"] is True and js["rows"][0]["eval"] == {
        **js["rows"][0]["eval"], "resumed": 1, "tracked": 1}
    assert report.plots == {} and js["plots"] == {}
    left = [name for name in ("report.json", "success.png", "precision.png", "latency.png") if (out / name).exists()]
    assert left == [], left   # no plot or analysis of the earlier run beside a report that names none


def test_a_resume_refused_before_any_work_keeps_the_earlier_report(benched):
    from droptrack.errors import InputError

    opts, out = benched
    opts.frames = 3   # other frames than the row's results: refused before any row runs
    with pytest.raises(InputError):
        run_bench(opts)
    assert all((out / name).is_file() for name in OLD)
