"""`dt bench` tracked every artifact twice over the same frames: a latency pass (warm-up + every frame again) and
then `dt eval`'s accuracy pass. The latency is now timed in the accuracy pass as it tracks, so each frame goes
through the model once, and the result files are those `dt eval` alone writes."""

from __future__ import annotations

import pytest
import torch

from droptrack.config import load_config
from droptrack.data import generate_synth, get_sequences
from droptrack.engine.base import Backend
from droptrack.eval.bench import BenchOptions, run_bench
from droptrack.eval.run import evaluate
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint


@pytest.fixture()
def tiny(tmp_path):
    """A tiny checkpoint and a 2 x 6-frame synthetic set (10 tracked frames)."""
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    ckpt = save_checkpoint(tmp_path / "tiny.pt", build_model(cfg).eval(), cfg)
    data = generate_synth(tmp_path / "synth", sequences=2, frames=6, seed=0, size=(96, 72), split="val")
    return ckpt, data


def test_each_frame_goes_through_the_model_once(tiny, tmp_path, monkeypatch):
    ckpt, data = tiny
    calls = []
    infer = Backend.infer

    def counted(self, template, search):
        calls.append(1)
        return infer(self, template, search)

    monkeypatch.setattr(Backend, "infer", counted)   # counts only; the model runs as it does
    report = run_bench(BenchOptions([str(ckpt)], data=str(data), output_dir=tmp_path / "out", threads=1,
                                    progress=False, warmup=2))
    row = report.rows[0]
    assert row.status == "passed", row.reason
    assert len(calls) == 2 * 5          # 2 sequences x 5 tracked frames, once (the two passes made it 2 + 10 + 10)
    assert row.latency is not None and (row.latency.frames, row.latency.warmup_frames) == (8, 2)
    assert row.latency.fps > 0 and row.latency.model_ms["p50"] > 0 and row.memory["peak_rss_mb"] > 0


def test_the_result_files_are_those_of_dt_eval_alone(tiny, tmp_path):
    ckpt, data = tiny
    report = run_bench(BenchOptions([str(ckpt)], data=str(data), output_dir=tmp_path / "out", threads=1,
                                    progress=False))
    # 10 tracked frames: the warm-up is cut to (10 - 1) // 2 = 4 of the default 10, and bench.md says 4
    assert report.rows[0].latency.warmup_frames == 4
    assert "after its first 4 (warm-up" in (tmp_path / "out" / "bench.md").read_text()
    ev = evaluate(str(ckpt), get_sequences("synth", root=data, split="val"), tmp_path / "eval", threads=1,
                  progress=False, name="tiny")
    names = sorted(p.name for p in ev.output_dir.glob("*.txt") if not p.name.endswith("_time.txt"))
    assert len(names) == 2
    for name in names:
        assert (tmp_path / "out" / "results" / "tiny" / name).read_bytes() == (ev.output_dir / name).read_bytes()


def test_bench_md_states_the_model_rows_warm_up_not_the_baselines(tiny, tmp_path):
    """bench.md said 'after its first 0 or 4 (warm-up' when an OpenCV baseline was a row: the baseline's 0 (its
    latency is every tracked frame's tracker call) read as a warm-up of the model rows. 10 tracked frames: the
    model rows' warm-up is (10 - 1) // 2 = 4."""
    ckpt, data = tiny
    report = run_bench(BenchOptions([str(ckpt)], data=str(data), output_dir=tmp_path / "out", threads=1,
                                    progress=False, trackers=["kcf"]))
    assert [r.latency.warmup_frames for r in report.rows] == [4, 0]
    text = (tmp_path / "out" / "bench.md").read_text()
    assert "after its first 4 (warm-up" in text and "0 or 4" not in text
    assert "OpenCV baselines: every tracked frame" in text
