"""A fresh `dt bench` (no --resume) into a folder of an earlier bench, interrupted while it replaced the row folders,
left the earlier bench.json / bench.md next to the new (partial) results: a report that did not describe them. The
old reports go before the first row folder is replaced; a bench refused before that keeps them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from droptrack.config import load_config
from droptrack.data import generate_synth
from droptrack.errors import InputError
from droptrack.eval.bench import BenchOptions, run_bench
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint

OLD = ("bench.json", "bench.md", "report.json", "success.png", "precision.png", "latency.png")


@pytest.fixture()
def benched(tmp_path) -> tuple[BenchOptions, Path]:
    """A complete bench of a tiny checkpoint on 1x4 synthetic frames: (its options, its output folder)."""
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    ckpt = save_checkpoint(tmp_path / "tiny.pt", build_model(cfg).eval(), cfg)
    data = generate_synth(tmp_path / "synth", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    opts = BenchOptions([str(ckpt)], data=str(data), output_dir=tmp_path / "out", threads=1, progress=False,
                        warmup=1, timed_frames=3)
    run_bench(opts)
    out = tmp_path / "out"
    assert all((out / name).is_file() for name in OLD), sorted(p.name for p in out.iterdir())
    return opts, out


def test_an_interrupted_fresh_bench_leaves_no_earlier_report(benched, monkeypatch):
    opts, out = benched

    def interrupted(*args, **kwargs):   # Ctrl-C while the first row's folder is being made again
        raise KeyboardInterrupt

    monkeypatch.setattr("droptrack.eval.run.evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_bench(opts)
    assert not (out / "results" / "tiny").exists()   # the row folder was replaced...
    left = [name for name in OLD if (out / name).exists()]
    assert left == [], left                          # ...so no report of the earlier results sits beside it


def test_a_bench_refused_before_any_row_keeps_the_earlier_report(benched):
    opts, out = benched
    opts.init = "1,1,5,5"   # the synthetic set has its own first-frame boxes: refused before anything runs
    with pytest.raises(InputError):
        run_bench(opts)
    assert all((out / name).is_file() for name in OLD)
