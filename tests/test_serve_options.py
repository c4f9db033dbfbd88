"""dt run and dt serve check the options they share in one function: the same bad input, the same first error."""

from __future__ import annotations

import pytest

from droptrack.errors import InputError
from droptrack.runtime.run import RunOptions, check_options

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402


def first_errors(**kw) -> tuple[str, str]:
    """The one-line error dt run and dt serve give for the same options."""
    with pytest.raises(InputError) as run_err:
        check_options(RunOptions(**kw), 1)
    with pytest.raises(InputError) as serve_err:
        Session(ServeOptions(**kw, device="cpu"))
    return str(run_err.value), str(serve_err.value)


@pytest.mark.parametrize("bad", [
    {"save": "x.gif", "artifact": "missing.pt"},                       # --save was checked before the model (serve)
    {"reconnect": -1, "jsonl": "/proc/no/such.jsonl"},                 # --reconnect before the outputs (serve)
    {"reconnect": -1, "artifact": "missing.pt"},
    {"save": "x.gif", "jsonl": "SOURCE"},                              # output paths before the container (run)
    {"output": "OUT_DIR", "save": "x.gif"},                            # a folder as --output: one message for both
    {"max_frames": 0, "lost_threshold": 2.0, "artifact": "missing.pt"},
    {"fps": 0.0, "save": "SOURCE"},
])
def test_the_same_bad_options_give_the_same_first_error(bad, video, tmp_path):
    """Session.__init__ and run.check_options ran the same checks in different orders (--save's container and
    --reconnect came before the model in dt serve, after the outputs in dt run), so one command line gave two
    different first errors; both now call one shared check."""
    subst = {"SOURCE": str(video), "OUT_DIR": str(tmp_path)}
    kw = {k: subst.get(v, v) if isinstance(v, str) else v for k, v in bad.items()}
    run_msg, serve_msg = first_errors(source=str(video), **kw)
    assert run_msg == serve_msg and "\n" not in run_msg, (run_msg, serve_msg)


def test_live_stats_over_the_last_frames(monkeypatch):
    """The page's numbers (moved out of Session): each stage's mean and p99 over the window, `total` the sum of the
    stages, the frame rate from the frames' wall-clock times."""
    from droptrack.serve import stats

    clock = iter([10.0, 10.5, 11.0, 11.25])
    monkeypatch.setattr(stats.time, "perf_counter", lambda: next(clock))
    live = stats.LiveStats(window=3)
    assert live.fps() is None and live.stages()["infer"] == {"mean_ms": None, "p99_ms": None}
    for infer in (4.0, 1.0, 2.0, 3.0):   # the first falls out of the 3-frame window
        live.add({"capture": 1.0, "pre": 0.5, "infer": infer, "post": 0.25, "output": 0.0})
    assert live.stage_times()["infer"] == [1.0, 2.0, 3.0] and live.stage_times()["total"] == [2.75, 3.75, 4.75]
    s = live.stages()
    assert s["infer"]["mean_ms"] == 2.0 and s["infer"]["p99_ms"] == 2.98 and s["capture"]["p99_ms"] == 1.0
    assert live.fps() == 3 / 1.25   # 4 frames from 10.0 s to 11.25 s
