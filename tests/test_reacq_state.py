"""The re-acquisition state (REACQ_FACTOR / --reacq-factor) in what a run reports (issue: an explicit LOST state and
a re-detection hook, field_2026.md section 3 row 3): `reacq` per target in `TrackResult`, in every `--jsonl` record
of `dt run` and `dt serve`, and in `dt serve`'s targets (page and API), true while the wide search is on. Without
re-acquisition nothing changes: no `reacq` anywhere. The scripted scores give the hysteresis by hand: a frame's
search is wide once REACQ_FRAMES frames in a row scored under REACQ_THRESHOLD, until one scores REACQ_RECOVER."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.config import meta_from_config
from droptrack.runtime.extensions import TrackerExt
from droptrack.runtime.loop import track_frames
from droptrack.runtime.source_base import Frame
from droptrack.runtime.textsinks import JsonlSink
from droptrack.runtime.tracker import Tracker
from test_tracker_ext import ScriptedBackend, tiny  # noqa: F401 (tiny: a fixture)

SCORES = [0.9, 0.1, 0.1, 0.3, 0.6, 0.9]
REACQ = TrackerExt(reacq_factor=6.0, reacq_frames=2, reacq_threshold=0.25, reacq_recover=0.5, reacq_center="last")
OLD_KEYS = {"frame", "timestamp", "boxes", "scores", "lost"}


def _frames(n_tracked: int, unreadable_after: int | None = None) -> list[Frame]:
    image = np.zeros((240, 320, 3), np.uint8)
    out = [Frame(0, 0.0, image)]
    for k in range(n_tracked):
        out.append(Frame(len(out), len(out) / 25, image))
        if k == unreadable_after:
            out.append(Frame(len(out), len(out) / 25, None))   # a damaged file frame: no search
    return out


def _records(tracker, frames, path) -> list[dict]:
    track_frames(frames, tracker, [[140.0, 100.0, 40.0, 40.0]], [JsonlSink(path)], lost_threshold=0.25)
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_records_say_when_the_wide_search_is_on(tiny, tmp_path):
    meta = meta_from_config(tiny[1])
    recs = _records(Tracker(ScriptedBackend(meta, SCORES), REACQ), _frames(len(SCORES), unreadable_after=2),
                    tmp_path / "r.jsonl")
    # init; 0.9; 0.1; 0.1 (the second under 0.25: wide from the next search on); unreadable (no search, the tracker
    # is wide); 0.3 (wide, under 0.5: stays wide); 0.6 (wide, recovers); 0.9 (normal crop again)
    assert [r["reacq"] for r in recs] == [[False], [False], [False], [False], [True], [True], [True], [False]]
    assert [r["lost"] for r in recs] == [[False], [False], [True], [True], [False], [False], [False], [False]]
    assert recs[4].get("unreadable") is True and recs[4]["boxes"] == [None]
    assert all(set(r) - {"unreadable"} == OLD_KEYS | {"reacq"} for r in recs)


@pytest.mark.parametrize("ext", [None, TrackerExt(size_lr=0.6)], ids=["official", "other-extension"])
def test_without_reacquisition_the_records_are_as_before(tiny, tmp_path, ext):
    meta = meta_from_config(tiny[1])
    tracker = Tracker(ScriptedBackend(meta, SCORES), ext)
    assert tracker.reacq_flags() is None
    recs = _records(tracker, _frames(len(SCORES), unreadable_after=2), tmp_path / "r.jsonl")
    assert len(recs) == 8 and all(set(r) - {"unreadable"} == OLD_KEYS for r in recs)


def test_track_results_carry_the_state(tiny):
    meta = meta_from_config(tiny[1])
    frame = np.zeros((240, 320, 3), np.uint8)
    tracker = Tracker(ScriptedBackend(meta, SCORES), REACQ)
    tracker.initialize(frame, [140.0, 100.0, 40.0, 40.0])
    assert tracker.reacq_flags() == [False]
    seen = []
    for _ in SCORES:
        (r,) = tracker.track_many(frame)
        seen.append((r.reacq, tracker.reacq_flags()[0]))
    # (this frame's search wide, the next one's): the flag a result carries is the one its crop was taken with
    assert seen == [(False, False), (False, False), (False, True), (True, True), (True, False), (False, False)]
    official = Tracker(ScriptedBackend(meta, [0.9]))
    official.initialize(frame, [140.0, 100.0, 40.0, 40.0])
    assert official.track_many(frame)[0].reacq is None


# thresholds no score of a real model reaches: every frame scores low, the search goes wide after two and stays
ALWAYS_WIDE = ["--reacq-factor", "6", "--reacq-threshold", "1", "--reacq-recover", "1", "--reacq-frames", "2"]


def test_dt_run_jsonl_with_and_without_reacquisition(tiny_ckpt, video, tmp_path):
    runner = CliRunner()
    common = [str(video), "--model", str(tiny_ckpt), "--init", "60,20,50,60", "--max-frames", "6", "--device", "cpu"]
    r = runner.invoke(app, ["run", *common, "--jsonl", str(tmp_path / "w.jsonl"), *ALWAYS_WIDE])
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in (tmp_path / "w.jsonl").read_text().splitlines()]
    assert [r["reacq"] for r in recs] == [[False]] * 3 + [[True]] * 3
    r = runner.invoke(app, ["run", *common, "--jsonl", str(tmp_path / "o.jsonl"), "--official"])
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert len(recs) == 6 and all(set(r) == OLD_KEYS for r in recs)


@pytest.mark.parametrize("wide", [True, False], ids=["reacq", "official"])
def test_dt_serve_targets_and_records_carry_the_state(tiny_ckpt, video, tmp_path, wide):
    pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
    pytest.importorskip("httpx", reason="Starlette's TestClient (httpx)")
    from fastapi.testclient import TestClient

    from droptrack.serve.app import create_app
    from droptrack.serve.options import ServeOptions
    from droptrack.serve.session import Session
    from serve_helpers import FACE, wait_for

    ext = {"REACQ_FACTOR": 6.0, "REACQ_THRESHOLD": 1.0, "REACQ_RECOVER": 1.0, "REACQ_FRAMES": 2} if wide else {}
    s = Session(ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", pace=False, max_frames=6, ext=ext,
                             jsonl=str(tmp_path / "serve.jsonl")))
    s.start()
    try:
        client = TestClient(create_app(s), base_url="http://127.0.0.1")
        added = client.post("/targets", json=dict(zip("xywh", FACE)))
        assert added.status_code == 201
        assert added.json().get("reacq") == (False if wide else None)
        wait_for(lambda: client.get("/stats").json()["state"] == "ended")
        targets, stats = client.get("/targets").json(), client.get("/stats").json()
    finally:
        s.stop()
    recs = [json.loads(line) for line in (tmp_path / "serve.jsonl").read_text().splitlines()]
    assert len(recs) == 6 and all(r["ids"] == [0] for r in recs)
    if wide:
        assert [r["reacq"] for r in recs] == [[False]] * 3 + [[True]] * 3
        assert targets[0]["reacq"] is True and stats["targets"] == targets
    else:
        assert all(set(r) == OLD_KEYS | {"ids"} for r in recs)
        assert set(targets[0]) == {"id", "box", "score", "lost", "since"} and stats["targets"] == targets
