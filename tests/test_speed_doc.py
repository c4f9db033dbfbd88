"""docs/speed.md (how dt bench times, for users comparing with papers' FPS) states the code's numbers: warm-up and
timed frame counts, the latency statistics bench.json holds, the per-stage names; and the README links it."""

from __future__ import annotations

import re
from pathlib import Path

from droptrack.eval.bench_options import BenchOptions
from droptrack.eval.bench_timing import PERCENTILES, _stats

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "speed.md").read_text(encoding="utf-8")


def test_the_readme_links_the_speed_doc():
    assert "(docs/speed.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_warm_up_and_timed_frames_are_the_bench_defaults():
    m = re.search(r"The first (\d+)\s+tracked frames are a warm-up .*? then up to (\d+) tracked frames are timed", DOC,
                  re.S)
    assert m, "docs/speed.md no longer states the warm-up and timed frame counts"
    opts = BenchOptions(artifacts=[])
    assert (int(m[1]), int(m[2])) == (opts.warmup, opts.timed_frames)


def test_the_stated_statistics_are_the_ones_bench_json_holds():
    m = re.search(r"`bench\.json` also has ([^.]+) for both", DOC)
    assert m
    stated = set(re.findall(r"mean|p\d+", m[1]))
    assert stated == set(_stats([1.0, 2.0, 3.0])) == {"mean", *(f"p{p}" for p in PERCENTILES)}
