"""docs/speed.md (how dt bench times, for users comparing with papers' FPS) states the code's numbers: warm-up and
timed frame counts, the latency statistics bench.json holds, the per-stage names; and the README links it."""

from __future__ import annotations

import re
from pathlib import Path

from droptrack.eval.bench_options import BenchOptions
from droptrack.eval.bench_timing import PERCENTILES, StageTimer, _stats

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "speed.md").read_text(encoding="utf-8")


def test_the_readme_links_the_speed_doc():
    assert "(docs/speed.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_warm_up_and_timed_frames_are_the_bench_defaults():
    m = re.search(r"The first (\d+)\s+tracked frames\s+of that pass are a warm-up .*? then up to (\d+) tracked frames "
                  r"are timed", DOC, re.S)
    assert m, "docs/speed.md no longer states the warm-up and timed frame counts"
    opts = BenchOptions(artifacts=[])
    assert (int(m[1]), int(m[2])) == (opts.warmup, opts.timed_frames)


def test_the_short_set_warm_up_rule_is_the_timers():
    """The doc's rule for a short set (at most (N - 1) / 2 of its N tracked frames, rounded down, are warm-up), by
    hand for a few N, is what StageTimer (the timer of dt bench's accuracy pass) does."""
    stated = " ".join(DOC.split())
    assert "of N tracked frames in all (every frame after each sequence's first), at most (N - 1) / 2, rounded " \
           "down, are warm-up" in stated
    assert "counted over the whole pass, not per sequence" in stated
    expected = {1: 0, 2: 0, 3: 1, 4: 1, 9: 4, 14: 6, 21: 10, 400: 10}     # min(10, (N - 1) // 2), by hand
    for total, warm in expected.items():
        timer = StageTimer(total, warmup=10, max_frames=200)
        timer.close_memory()
        assert timer.warm == warm, total


def test_the_warm_up_spans_sequences_and_later_frames_are_not_timed():
    """Warm-up and timed frames are counted over the pass (3 sequences of 5 tracked frames, warm-up 4, 6 timed):
    the timer counts frames 4..9 and not the first sequence's four nor the last sequence's frames."""

    class Stub:
        backend = type("B", (), {"latencies_ms": [1.0]})()

        def initialize(self, frame, box):
            pass

        def track_timed(self, frame):
            return [type("R", (), {"box": [0, 0, 1, 1], "score": 1.0})()], {"pre": 1.0, "infer": 2.0, "post": 3.0}

    timer = StageTimer(15, warmup=4, max_frames=6).wrap(Stub())
    for _ in range(3):
        timer.initialize(None, [0, 0, 1, 1])
        for _ in range(5):
            timer.track(None)
    lat = timer.latency()
    assert (lat.warmup_frames, lat.frames) == (4, 6)
    assert "not per sequence" in " ".join(DOC.split()) and "later frames are tracked and scored but not timed" in \
        " ".join(DOC.split())


def test_the_stated_statistics_are_the_ones_bench_json_holds():
    m = re.search(r"`bench\.json` also\s+has ([^.]+) for both", DOC)
    assert m
    stated = set(re.findall(r"mean|p\d+", m[1]))
    assert stated == set(_stats([1.0, 2.0, 3.0])) == {"mean", *(f"p{p}" for p in PERCENTILES)}
